from django.db import migrations

KITS = {
    "Sexual assault kit": (
        "Standard kit collected at the medical examination of a victim of sexual violence.",
        [
            ("swab", "Vaginal swabs", 2, "Sealed kit envelope", True, ["serology", "dna"]),
            ("swab", "Oral swabs", 2, "Sealed kit envelope", True, ["serology", "dna"]),
            ("blood", "Blood sample, grey-top tube", 1, "Sealed tube", True, ["toxicology"]),
            ("clothing", "Victim's underwear", 1, "Paper bag", True, ["serology"]),
            ("swab", "Victim reference buccal swab", 1, "Sealed envelope", True, ["dna"]),
        ],
    ),
    "Toxicology kit (driving)": (
        "Samples from a driver suspected of driving under the influence.",
        [
            ("blood", "Blood sample, grey-top tubes", 2, "Sealed tubes in kit box", True, ["toxicology"]),
            ("other", "Urine sample", 1, "Sealed container", True, ["toxicology"]),
        ],
    ),
    "Firearm and ammunition set": (
        "A recovered firearm with its magazine, cartridges and fired components.",
        [
            ("firearm", "Pistol with magazine", 1, "Firearm box, zip-tied", False, ["firearms", "ibis"]),
            ("cartridge_case", "Fired cartridge cases", 1, "Sealed envelope", False, ["firearms", "ibis"]),
            ("bullet", "Fired bullets or fragments", 1, "Sealed envelope", False, ["firearms"]),
        ],
    ),
}


def seed(apps, schema_editor):
    Kit = apps.get_model("intake", "Kit")
    Discipline = apps.get_model("lab", "Discipline")
    for name, (description, items) in KITS.items():
        kit, created = Kit.objects.get_or_create(name=name, defaults={"description": description})
        if not created:
            continue
        for item_type, item_description, quantity, packaging, biological, disciplines in items:
            item = kit.items.create(type=item_type, description=item_description, quantity=quantity,
                                    packaging=packaging, biological=biological)
            item.disciplines.set(Discipline.objects.filter(code__in=disciplines))


class Migration(migrations.Migration):
    dependencies = [("intake", "0001_initial"), ("lab", "0002_seed_disciplines")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
