"""Classify the demo use cases, give one a RACI, and open one promotion. Safe to run again."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from governance.card import model_card_update
from governance.classification import classification_submit
from governance.models import PromotionRequest
from governance.promotions import promotion_request
from governance.raci import raci_update
from governance.selectors import classification_current
from registry.models import ModelVersion, UseCase

LOW = {
    "regulation": "none", "personal_data": "no", "consumers": "one_team", "availability": "ad_hoc",
    "error_impact": "low", "release_cadence": "rare", "lifetime": "short", "decay": "slow", "explainability": "none",
}
ANSWERS = {
    # Sector regulation forces at least tier 3.
    "Credit limit decisions": {**LOW, "regulation": "sector", "personal_data": "yes", "consumers": "internal",
                               "availability": "batch", "error_impact": "financial", "explainability": "required"},
    "Churn outreach": {**LOW, "consumers": "internal", "release_cadence": "monthly"},
    "Claims triage": {**LOW, "personal_data": "yes", "consumers": "internal", "availability": "batch"},
}
ETHICS = {
    "wellbeing": "Financial health of customers; no limit increases that push people into debt.",
    "transparency": "Customers can ask why their limit changed.",
    "accountability": "The retail credit committee accepts accountability for model-driven limits.",
}


class Command(BaseCommand):
    help = "Classify the demo use cases (after seed_demo), fill a RACI and open one promotion request."

    def handle(self, *args, **options):
        users = {u.username: u for u in get_user_model().objects.filter(username__in=["dana", "rita", "omar", "sam"])}
        if len(users) < 4:
            self.stderr.write("Run seed_demo first.")
            return
        with transaction.atomic():
            for name, answers in ANSWERS.items():
                use_case = UseCase.objects.filter(name=name).first()
                if use_case is None or classification_current(use_case=use_case):
                    continue
                ethics = ETHICS if name == "Credit limit decisions" else {}
                classification_submit(actor=users["rita"], use_case=use_case, answers=answers, ethics=ethics)
                if name == "Credit limit decisions":
                    raci_update(actor=users["rita"], use_case=use_case,
                                assignments={"risk_audit": ["rita"], "production": ["omar"], "data_scientist": ["dana", "sam"]})
            version = ModelVersion.objects.filter(model__name="credit-limit-gbm", number=3).first()
            if version and not PromotionRequest.objects.filter(version=version).exists():
                model_card_update(actor=users["dana"], version=version,
                                  intended_use="Monthly credit limit reviews for existing retail card holders.",
                                  limitations="Not validated for small-business cards or customers with < 6 months history.")
                promotion_request(actor=users["dana"], version=version, target_stage="qa",
                                  reason="Best AUC so far; ready for acceptance testing.")
        self.stdout.write(self.style.SUCCESS("Governance demo data ready."))
