from django.db import migrations

RULES = [
    ("0101", True, None, "Biological evidence in homicide cases is kept indefinitely"),
    ("0301", True, None, "Biological evidence in sexual-violence cases is kept indefinitely"),
    ("0102", True, 25, "Biological evidence in attempted homicide: 25 years"),
]


def seed(apps, schema_editor):
    RetentionRule = apps.get_model("evidence", "RetentionRule")
    for prefix, biological_only, years, note in RULES:
        RetentionRule.objects.get_or_create(offence_prefix=prefix, biological_only=biological_only,
                                            defaults={"retain_years": years, "note": note})


class Migration(migrations.Migration):
    dependencies = [("evidence", "0003_storage_transfers_disposition")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
