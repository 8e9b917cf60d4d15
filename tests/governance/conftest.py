"""Governance fixtures: classified use cases and a helper to request promotions, via services."""

import pytest

from governance.checklist import promotion_checklist
from governance.classification import classification_submit
from governance.policy import policy_update
from governance.promotions import promotion_request, signoff_approve
from governance.selectors import policy_current

LOW = {
    "regulation": "none", "personal_data": "no", "consumers": "one_team", "availability": "ad_hoc",
    "error_impact": "low", "release_cadence": "rare", "lifetime": "short", "decay": "slow", "explainability": "none",
}


def answers(**changes):
    return {**LOW, **changes}


@pytest.fixture
def worker_mail(django_capture_on_commit_callbacks):
    """`with worker_mail() as sent:` runs the block in a transaction, commits it (sending the
    mail jobs it queued to the broker) and then does the worker's part: runs `core.tasks.mail_send`
    on each job, as the worker process would. `sent` is the mail that went out, and nothing went
    out while the block ran: the request never waits for the mail server."""
    from contextlib import contextmanager

    from django.core import mail
    from django.db import transaction

    from core.models import BackgroundJob
    from core.tasks import mail_send

    @contextmanager
    def run():
        before = set(BackgroundJob.objects.filter(kind="mail").values_list("pk", flat=True))
        sent = []
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                yield sent
                assert mail.outbox == []  # nothing is sent inside the transaction
        jobs = BackgroundJob.objects.filter(kind="mail").exclude(pk__in=before).order_by("pk")
        for job in jobs:
            assert job.task == "core.tasks.mail_send" and job.sent_at is not None  # handed to the broker
            mail_send(job.pk)
            job.refresh_from_db()
            assert job.status == BackgroundJob.Status.SUCCEEDED
        sent.extend(mail.outbox)

    return run


@pytest.fixture
def tier1(inventory, cast):
    """The inventory's use case classified tier 1 by rita (a risk officer's classification of
    someone else's use case applies at once; dana's own would wait for confirmation)."""
    classification_submit(actor=cast["rita"], use_case=inventory["use_case"], answers=answers())
    return inventory


@pytest.fixture
def strict_policy(cast):
    """A policy version where tier 1 production needs two risk-officer approvals."""

    def make(count=2, role="risk_officer"):
        data = policy_current().data
        data["tiers"]["1"]["sign_off"] = [
            {"text": f"{count} {role}", "gate": "approvals", "params": {"role": role, "count": count}, "stages": ["qa", "preproduction", "production"]}
        ]
        return policy_update(actor=cast["rita"], data=data, comment="stricter")

    return make


@pytest.fixture
def advance(cast):
    """Move a version stage by stage to `stage` through requests approved by rita."""

    def go(version, stage):
        from registry.models import STAGE_ORDER

        version.refresh_from_db()
        while STAGE_ORDER.index(version.stage) < STAGE_ORDER.index(stage):
            nxt = STAGE_ORDER[STAGE_ORDER.index(version.stage) + 1]
            p = promotion_request(actor=cast["dana"], version=version, target_stage=nxt)
            signoff_approve(promotion=p, actor=cast["rita"], comment="ok")
            version.refresh_from_db()
            assert version.stage == nxt, promotion_checklist(promotion=p)
        return version

    return go
