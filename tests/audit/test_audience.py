"""Who sees which events: sign-ins and IP addresses for auditors and administrators only; the
same restriction (`events_visible_to`) behind list, detail, export and the admin console."""

import csv
import io

import pytest
from django.test import Client

from audit.context import audit_context
from audit.models import AuditEvent
from audit.selectors import events_visible_to
from audit.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(cast):
    """A failed and a successful sign-in through the real login view, and an inventory change
    with a source IP."""
    client = Client(REMOTE_ADDR="203.0.113.7")
    client.post("/accounts/login/", {"username": "dana", "password": "wrong-password-1"})
    signed_in = client.post("/accounts/login/", {"username": "dana", "password": "correct-horse-battery-42"})
    assert signed_in.status_code == 302
    with audit_context(request_id="req-inv", source_ip="198.51.100.4"):
        audit_record(action="model.create", actor=cast["dana"], object_type="registry.registeredmodel", object_id="1")
    return AuditEvent.objects.all()


def _listed(api, user, **query):
    response = api(user).get("/api/v1/audit/events/", {"page_size": 500, **query})
    assert response.status_code == 200
    return response.json()["results"]


@pytest.mark.parametrize("user", ["audrey", "root"])
def test_auditors_and_admins_see_sign_ins_and_addresses(api, trail, user):
    events = _listed(api, user)
    actions = {e["action"] for e in events}
    assert {"auth.login_failed", "auth.login", "model.create"} <= actions
    [created] = [e for e in events if e["action"] == "model.create"]
    assert created["source_ip"] == "198.51.100.4"


@pytest.mark.parametrize("user", ["dana", "sam", "rita"])
def test_other_roles_see_no_sign_ins_and_no_addresses(api, trail, user):
    events = _listed(api, user)
    # They still see the inventory's events, among them the one recorded with an address.
    assert "model.create" in {e["action"] for e in events}
    assert not [e for e in events if e["action"].startswith("auth.")]
    assert {e["source_ip"] for e in events} == {None}
    # Filtering for them does not bring them back.
    assert _listed(api, user, action_prefix="auth.") == []


def test_detail_follows_the_same_rule(api, trail):
    failed = AuditEvent.objects.get(action="auth.login_failed")
    assert api("dana").get(f"/api/v1/audit/events/{failed.pk}/").status_code == 404
    body = api("audrey").get(f"/api/v1/audit/events/{failed.pk}/").json()
    assert body["object_repr"] == "dana" and body["source_ip"] == "203.0.113.7"


def test_export_follows_the_same_rule(api, trail):
    def rows(user):
        response = api(user).get("/api/v1/audit/events/export/?format=csv")
        assert response.status_code == 200
        return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    officer = rows("rita")
    assert officer and not [r for r in officer if r["action"].startswith("auth.")]
    assert {r["source_ip"] for r in officer} == {""}
    auditor = rows("audrey")
    assert {"auth.login", "auth.login_failed"} <= {r["action"] for r in auditor}
    assert "203.0.113.7" in {r["source_ip"] for r in auditor}


def test_own_tokens_only(api, cast):
    from core.services import token_create

    token_create(user=cast["sam"], actor=cast["sam"], name="sam's")
    token_create(user=cast["dana"], actor=cast["dana"], name="dana's")
    seen = {e.object_repr for e in events_visible_to(cast["dana"]).filter(object_type="core.apitoken")}
    assert any("dana" in r for r in seen) and not any("sam" in r for r in seen)
    assert events_visible_to(cast["audrey"]).filter(object_type="core.apitoken").count() >= 2


def test_admin_console_hides_sign_ins_from_risk_officers(cast, trail):
    for name in ("rita", "audrey"):
        cast[name].is_staff = True  # as seed_demo makes them
        cast[name].save(update_fields=["is_staff"])
    client = Client()
    client.force_login(cast["rita"])
    failed = AuditEvent.objects.get(action="auth.login_failed")
    page = client.get("/admin/audit/auditevent/")
    assert page.status_code == 200
    assert b"auth.login_failed" not in page.content
    assert client.get(f"/admin/audit/auditevent/{failed.pk}/change/").status_code in (302, 404)
    created = AuditEvent.objects.get(action="model.create")
    detail = client.get(f"/admin/audit/auditevent/{created.pk}/change/")
    assert detail.status_code == 200 and b"198.51.100.4" not in detail.content
    client.force_login(cast["audrey"])
    assert b"auth.login_failed" in client.get("/admin/audit/auditevent/").content
