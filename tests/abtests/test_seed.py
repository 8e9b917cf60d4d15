import pytest
from django.core.management import call_command

from abtests.models import Event, Experiment


@pytest.mark.django_db
def test_demo_experiment_is_running_with_half_its_sample_and_seeding_twice_is_harmless(capsys):
    call_command("seed_demo")
    call_command("seed_abtests_demo")
    call_command("seed_abtests_demo")
    exp = Experiment.objects.get()
    assert exp.status == Experiment.Status.RUNNING
    assert Event.objects.filter(experiment=exp).count() == 2 * (exp.n_per_arm // 2)
