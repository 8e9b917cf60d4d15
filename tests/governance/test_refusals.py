"""Refused attempts are audited (issue 8, point 5's last sentence): each leaves exactly one
`access.refused` event, committed on its own after the refused work rolled back."""

import pytest

from audit.models import AuditEvent
from audit.verify import audit_chain_verify
from core.errors import Forbidden
from governance.classification import classification_submit
from governance.promotions import promotion_request, signoff_approve
from governance.selectors import policy_current


def refusals():
    return list(AuditEvent.objects.filter(action="access.refused").order_by("seq"))


def test_an_auditors_write_is_refused_and_audited(api, inventory):
    r = api("audrey").patch(f"/api/v1/use-cases/{inventory['use_case'].pk}/", {"purpose": "x"}, format="json")
    assert r.status_code == 403
    [event] = refusals()
    assert event.actor_username == "audrey"
    assert event.changes["attempted"]["after"] == f"PATCH /api/v1/use-cases/{inventory['use_case'].pk}/"
    assert event.changes["reason"]["after"] == "Auditors have read-only access."


def test_a_self_approval_is_refused_and_audited_once(api, tier1, cast):
    p = promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="qa")
    r = api("dana").post(f"/api/v1/promotions/{p.pk}/approve/", {"comment": "mine"}, format="json")
    assert r.status_code == 403 and "separation of duties" in r.json()["detail"]
    [event] = refusals()
    assert event.actor_username == "dana" and event.changes["attempted"]["after"] == "signoff.approve"
    assert event.object_type == "governance.promotionrequest" and event.object_id == str(p.pk)
    assert not p.signoffs.exists()


def test_a_data_scientists_policy_edit_is_refused_and_audited(api, cast):
    data = policy_current().data
    r = api("dana").put("/api/v1/policies/", {"data": data}, format="json")
    assert r.status_code == 403
    [event] = refusals()
    assert event.changes["attempted"]["after"] == "policy.update"
    assert policy_current().number == 1


@pytest.mark.django_db(transaction=True)
def test_the_refusal_is_committed_although_the_refused_work_rolled_back(cast, inventory):
    """Outside a test transaction: the service's own transaction rolls back, the event stays."""
    classification_submit(actor=cast["rita"], use_case=inventory["use_case"], answers={
        "regulation": "none", "personal_data": "no", "consumers": "one_team", "availability": "ad_hoc",
        "error_impact": "low", "release_cadence": "rare", "lifetime": "short", "decay": "slow", "explainability": "none",
    })
    p = promotion_request(actor=cast["dana"], version=inventory["version"], target_stage="qa")
    with pytest.raises(Forbidden):
        signoff_approve(promotion=p, actor=cast["audrey"])
    assert [e.changes["attempted"]["after"] for e in refusals()] == ["signoff.approve"]
    assert audit_chain_verify().ok


def test_the_portal_records_a_refused_policy_edit(cast, settings):
    from django.test import Client
    from django.urls import reverse

    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    client = Client()
    client.force_login(cast["dana"])

    policy = policy_current()
    form = {"base": str(policy.number), "rows": "1", "text-0": "x"}
    assert client.post(reverse("portal:policy-cell", args=[1, "sign_off"]), form).status_code == 403
    assert [e.actor_username for e in refusals()] == ["dana"]
