from django.db import migrations

from forensis.core.append_only import migration_operations


class Migration(migrations.Migration):
    """Reject UPDATE, DELETE (and on PostgreSQL TRUNCATE) on the audit log, on both engines."""

    dependencies = [("audit", "0001_initial")]

    operations = [migration_operations("audit_auditevent")]
