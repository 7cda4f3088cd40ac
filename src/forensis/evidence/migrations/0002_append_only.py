from django.db import migrations

from forensis.core.append_only import migration_operations


class Migration(migrations.Migration):
    """Reject UPDATE and DELETE on the custody ledger, on both engines."""

    dependencies = [("evidence", "0001_initial")]
    operations = [migration_operations("evidence_custodyevent")]
