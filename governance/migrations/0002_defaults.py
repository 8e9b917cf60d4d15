"""Load the shipped questionnaire scoring and policy matrix as version 1 of each."""

from django.db import migrations

from governance import defaults


def load(apps, schema_editor):
    ScoringScheme = apps.get_model("governance", "ScoringScheme")
    Policy = apps.get_model("governance", "Policy")
    if not ScoringScheme.objects.exists():
        ScoringScheme.objects.create(number=1, data=defaults.QUESTIONNAIRE)
    if not Policy.objects.exists():
        Policy.objects.create(number=1, data=defaults.POLICY, comment="Defaults after Introducing MLOps")


class Migration(migrations.Migration):
    dependencies = [("governance", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
