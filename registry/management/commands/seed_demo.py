"""Load demo data through the services (so it has an audit trail). Safe to run again."""

import hashlib
import io

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction

from registry import services
from registry.models import Dataset, RegisteredModel, UseCase

DEMO_PASSWORD = "steward-demo-2026"
DEMO_USERS = [
    ("dana", "data_scientist", "Dana Scientist"),
    ("sam", "data_scientist", "Sam Modeler"),
    ("rita", "risk_officer", "Rita Risk"),
    ("omar", "risk_officer", "Omar Oversight"),
    ("audrey", "auditor", "Audrey Auditor"),
    ("admin", "admin", "Ada Admin"),
]
ROLE_WORDS = {
    "data_scientist": "data scientists", "risk_officer": "risk officers", "auditor": "auditor",
    "admin": "administrator",
}


class Command(BaseCommand):
    help = "Create demo users (one per role), use cases, datasets, models and versions."

    def handle(self, *args, **options):
        users = self._users()
        dana, sam = users["dana"], users["sam"]
        with transaction.atomic():
            self._inventory(dana, sam)
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        by_role = {}
        for username, role, _ in DEMO_USERS:
            by_role.setdefault(role, []).append(username)
        for role, usernames in by_role.items():
            self.stdout.write(f"  {', '.join(usernames):<12} {ROLE_WORDS[role]}")

    def _users(self):
        User = get_user_model()
        users = {}
        for username, role, full_name in DEMO_USERS:
            first, last = full_name.split(" ", 1)
            user, created = User.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com"}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.is_staff = role in ("auditor", "admin", "risk_officer")
                user.is_superuser = role == "admin"
                user.save()
            user.groups.add(Group.objects.get_or_create(name=role)[0])
            users[username] = user
        return users

    def _inventory(self, dana, sam):
        if UseCase.objects.filter(name="Credit limit decisions").exists():
            return
        credit = services.use_case_create(
            actor=dana, name="Credit limit decisions", business_unit="Retail lending",
            purpose="Set credit card limits for existing customers from their account history.",
        )
        churn = services.use_case_create(
            actor=dana, name="Churn outreach", business_unit="Marketing",
            purpose="Pick customers for a retention call each week.",
        )
        claims = services.use_case_create(
            actor=sam, name="Claims triage", business_unit="Insurance operations",
            purpose="Route incoming claims to fast track or to an adjuster.",
        )
        accounts = services.dataset_create(
            actor=dana, name="accounts", version="2026-09", source_uri="s3://lake/accounts/2026-09/",
            sha256=hashlib.sha256(b"accounts-2026-09").hexdigest(), contains_personal_data=True,
            legal_basis=Dataset.LegalBasis.CONTRACT, description="Monthly account snapshot.",
        )
        bureau = services.dataset_create(
            actor=dana, name="bureau-scores", version="2026-Q3", source_uri="https://bureau.example/exports/q3",
            sha256=hashlib.sha256(b"bureau-q3").hexdigest(), contains_personal_data=True,
            legal_basis=Dataset.LegalBasis.LEGITIMATE_INTERESTS,
        )
        calls = services.dataset_create(
            actor=dana, name="call-logs", version="v4", source_uri="warehouse://crm.calls?snapshot=v4",
            sha256=hashlib.sha256(b"calls-v4").hexdigest(),
        )
        claim_hist = services.dataset_create(
            actor=sam, name="claims-history", version="2026-06", source_uri="s3://lake/claims/2026-06/",
            sha256=hashlib.sha256(b"claims").hexdigest(), contains_personal_data=True,
            legal_basis=Dataset.LegalBasis.CONTRACT,
        )
        credit_model = services.model_create(
            actor=dana, name="credit-limit-gbm", use_case=credit, tags=["credit", "gbm"],
            description="Gradient-boosted trees predicting **safe credit limits**.\n\n- monotone in income\n- explained with SHAP",
        )
        churn_model = services.model_create(
            actor=dana, name="churn-logit", use_case=churn, tags=["marketing"],
            description="Logistic regression on call logs and tenure.",
        )
        claims_model = services.model_create(
            actor=sam, name="claims-triage-nn", use_case=claims, tags=["insurance"],
            description="Small neural network routing claims.",
        )
        for i, auc in enumerate([0.781, 0.804, 0.812], start=1):
            blob = f"credit-limit-gbm weights v{i}".encode()
            services.model_version_register(
                actor=dana, model=credit_model, framework="xgboost",
                artifact=SimpleUploadedFile(f"model-v{i}.json", blob),
                code_repository="https://git.example/credit/limits", code_commit=hashlib.sha1(blob).hexdigest(),
                training_run=f"mlflow-run-{1000 + i}", training_datasets=[accounts, bureau],
                params={"max_depth": 4 + i, "eta": 0.1}, metrics={"auc": auc, "ks": round(auc - 0.35, 3)},
            )
        services.model_version_register(
            actor=dana, model=churn_model, framework="sklearn",
            artifact_uri="s3://models/churn-logit/1/model.pkl",
            sha256=hashlib.sha256(b"churn v1").hexdigest(), size=20480,
            training_datasets=[calls], metrics={"auc": 0.71},
        )
        services.model_version_register(
            actor=sam, model=claims_model, framework="pytorch",
            artifact=SimpleUploadedFile("triage.pt", io.BytesIO(b"claims nn").read()),
            training_datasets=[claim_hist], code_commit="4f2a9c1", metrics={"f1": 0.66},
        )
        assert RegisteredModel.objects.count() >= 3
