from django.db import migrations
from django.utils.translation import gettext_noop

DISCIPLINES = [
    ("serology", gettext_noop("Serology"), False),
    ("toxicology", gettext_noop("Toxicology"), False),
    ("seized-drugs", gettext_noop("Seized drugs"), False),
    ("rapid-dna", gettext_noop("Rapid DNA"), False),
    ("dna", gettext_noop("DNA (outsourced)"), True),
    ("firearms", gettext_noop("Firearms"), False),
    ("ibis", gettext_noop("IBIS ballistic imaging"), False),
    ("trace", gettext_noop("Trace evidence"), False),
    ("pathology", gettext_noop("Pathology"), False),
    ("histopathology", gettext_noop("Histopathology"), False),
]


def seed(apps, schema_editor):
    Discipline = apps.get_model("lab", "Discipline")
    for code, name, outsourced in DISCIPLINES:
        Discipline.objects.get_or_create(code=code, defaults={"name": name, "outsourced": outsourced})


class Migration(migrations.Migration):
    dependencies = [("lab", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
