"""The month of release, stored so that statistics group released work without a date function per row."""

from django.db import migrations, models
from django.utils import timezone


def fill_released_month(apps, schema_editor):
    ServiceRequest = apps.get_model("lab", "ServiceRequest")
    changed = []
    for request in ServiceRequest.objects.filter(released_at__isnull=False).only("pk", "released_at").iterator():
        request.released_month = timezone.localtime(request.released_at).strftime("%Y-%m")
        changed.append(request)
        if len(changed) == 1000:
            ServiceRequest.objects.bulk_update(changed, ["released_month"])
            changed = []
    ServiceRequest.objects.bulk_update(changed, ["released_month"])


class Migration(migrations.Migration):

    dependencies = [
        ("lab", "0004_examination_deviations"),
    ]

    operations = [
        migrations.AddField(
            model_name="servicerequest",
            name="released_month",
            field=models.CharField(blank=True, db_index=True, max_length=7),
        ),
        migrations.RunPython(fill_released_month, migrations.RunPython.noop),
    ]
