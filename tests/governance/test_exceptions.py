"""Scoped exceptions: a risk officer waives one gate for one version (or use case) for a while,
with a justification, instead of editing the global policy; the governed cannot grant them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from core.errors import Forbidden, InvalidInput
from governance.card import model_card_data, model_card_markdown
from governance.checklist import promotion_checklist
from governance.classification import classification_submit
from governance.gate_exceptions import (
    exceptions_in_force,
    gate_exception_grant,
    gate_exception_revoke,
)
from governance.policy import policy_update
from governance.promotions import promotion_complete, promotion_request, signoff_approve
from governance.selectors import policy_current

from .conftest import answers


@pytest.fixture
def drift_gated(inventory, cast, advance):
    """A version in pre-production whose production move needs the drift gate (not installed here)."""
    uc = inventory["use_case"]
    classification_submit(actor=cast["rita"], use_case=uc, answers=answers())
    data = policy_current().data
    data["tiers"]["1"]["monitoring"] = [{"text": "Drift monitoring configured", "gate": "drift_monitoring", "params": {}, "stages": ["production"]}]
    policy_update(actor=cast["rita"], data=data)
    return advance(inventory["version"], "preproduction")


def test_an_exception_lets_one_version_through_and_is_shown(drift_gated, cast, api):
    version = drift_gated
    p = promotion_request(actor=cast["dana"], version=version, target_stage="production")
    signoff_approve(promotion=p, actor=cast["rita"])
    p.refresh_from_db()
    assert p.status == "approved"  # drift gate missing
    r = api("rita").post("/api/v1/gate-exceptions/", {
        "gate": "drift_monitoring", "model": "credit-gbm", "version": version.number,
        "justification": "Drift job ships next sprint; weekly manual check until then",
        "expires_at": (timezone.now() + timedelta(days=14)).isoformat(),
    }, format="json")
    assert r.status_code == 201, r.json()
    assert r.json()["in_force"] is True and r.json()["granted_by"] == "rita"
    drift = next(i for i in promotion_checklist(promotion=p) if i["key"] == "drift_monitoring")
    assert drift["met"] and drift["exception"]["granted_by"] == "rita" and "exception granted by rita" in drift["detail"]
    promotion_complete(promotion=p, actor=cast["dana"])
    version.refresh_from_db()
    assert version.stage == "production"
    card = model_card_data(version=version)
    assert card["exceptions"][0]["gate"] == "drift_monitoring"
    assert "Drift job ships next sprint" in model_card_markdown(card)
    assert AuditEvent.objects.filter(action="gate_exception.grant").count() == 1


def test_exceptions_expire_on_their_own(drift_gated, cast):
    version = drift_gated
    exception = gate_exception_grant(actor=cast["rita"], gate="drift_monitoring", version=version,
                                     justification="short", expires_at=timezone.now() + timedelta(hours=1))
    assert "drift_monitoring" in exceptions_in_force(version=version)
    type(exception).objects.filter(pk=exception.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert exceptions_in_force(version=version) == {}


def test_the_governed_cannot_grant_and_sign_off_cannot_be_waived(drift_gated, cast):
    version = drift_gated
    later = timezone.now() + timedelta(days=3)
    for who in ("dana", "sam", "audrey", "root"):
        with pytest.raises(Forbidden):
            gate_exception_grant(actor=cast[who], gate="drift_monitoring", version=version, justification="x", expires_at=later)
    with pytest.raises(InvalidInput) as exc:
        gate_exception_grant(actor=cast["rita"], gate="approvals", version=version, justification="x", expires_at=later)
    assert exc.value.fields["gate"] == ["Human sign-off cannot be waived."]
    with pytest.raises(InvalidInput) as exc:
        gate_exception_grant(actor=cast["rita"], gate="drift_monitoring", version=version, justification=" ",
                             expires_at=timezone.now() + timedelta(days=400))
    assert set(exc.value.fields) == {"justification", "expires_at"}
    assert AuditEvent.objects.filter(action="access.refused").count() == 4


def test_use_case_wide_exception_and_revocation(drift_gated, cast):
    version = drift_gated
    exception = gate_exception_grant(actor=cast["omar"], gate="drift_monitoring", use_case=version.model.use_case,
                                     justification="Whole use case on manual checks", expires_at=timezone.now() + timedelta(days=7))
    assert exceptions_in_force(version=version)["drift_monitoring"] == exception
    gate_exception_revoke(actor=cast["rita"], exception=exception)
    assert exceptions_in_force(version=version) == {}
