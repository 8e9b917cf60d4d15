"""A running demo experiment with half of its planned events, built through the services.
Safe to run again. Runs after `seed_demo` (it needs dana and credit-limit-gbm v2/v3)."""

import io

import numpy as np
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from abtests import ingest, lifecycle
from abtests.models import Experiment
from registry.models import ModelVersion

NAME = "Credit limits: v3 against v2"


class Command(BaseCommand):
    help = "Create and start a demo A/B experiment and upload part of its events."

    def handle(self, *args, **options):
        if Experiment.objects.filter(name=NAME).exists():
            return
        dana = get_user_model().objects.get(username="dana")
        v2 = ModelVersion.objects.get(model__name="credit-limit-gbm", number=2)
        v3 = ModelVersion.objects.get(model__name="credit-limit-gbm", number=3)
        exp = lifecycle.experiment_create(
            actor=dana, model=v2.model, champion=v2, challengers=[v3], name=NAME,
            description="Does v3 raise the share of customers who accept the offered limit?",
            kind="ab", metric_name="offer_accepted", metric_type="binary", direction="increase",
            population="Existing card holders with 12+ months of history", splitting="sticky",
            test="two_proportion_z", alpha=0.05, power=0.8, mde=0.05, baseline=0.30, daily_units=400,
        )
        exp = lifecycle.experiment_start(actor=dana, experiment=exp)
        # About half of the planned sample, so the page shows progress and no verdict yet.
        rng = np.random.default_rng(2026)
        n = exp.n_per_arm // 2
        out = io.StringIO()
        out.write("unit_id,arm,value\n")
        for arm_name, rate in [(exp.arms.get(position=0).name, 0.30), (exp.arms.get(position=1).name, 0.34)]:
            for i, value in enumerate(rng.random(n) < rate):
                out.write(f"{arm_name}-{i},{arm_name},{int(value)}\n")
        ingest.events_ingest(
            actor=dana, experiment=exp, body=io.BytesIO(out.getvalue().encode()), content_type="text/csv"
        )
        self.stdout.write(f"Demo experiment '{NAME}' running with {2 * n} of {exp.total_n} planned units.")
