from django.db import migrations

from forensis.core.append_only import migration_operations


class Migration(migrations.Migration):
    """Reject UPDATE and DELETE on issued report versions, on both engines: a report is never changed in place."""

    dependencies = [("reports", "0001_initial")]
    operations = [migration_operations("reports_reportversion")]
