"""The dashboard directs attention: per person, what waits on them (with age), overdue reviews,
their own open requests; the feed shows governance events, not sign-ins. Plus the error pages and
the one place for people's words."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from governance.checklist import promotion_due
from governance.models import PromotionRequest, Review
from portal import attention, labels

pytestmark = pytest.mark.django_db


def _attention(page: str) -> str:
    return page.split('id="attention"')[1].split("</section>")[0]


def test_approver_sees_the_waiting_request_with_its_age(browse, promotion):
    PromotionRequest.objects.filter(pk=promotion.pk).update(created_at=timezone.now() - datetime.timedelta(days=12))
    box = _attention(browse("rita").get(reverse("portal:dashboard")).content.decode())
    assert reverse("portal:promotion", args=[promotion.pk]) in box
    # Twelve days is past any tier's sign-off due date (governance.checklist.promotion_due): flagged.
    promotion.refresh_from_db()
    due = timezone.localdate(promotion_due(promotion))
    assert f"<strong>overdue</strong> since {due:%Y-%m-%d}" in box and 'class="signoff overdue"' in box


def test_requester_sees_her_own_request_not_a_sign_off(browse, promotion):
    box = _attention(browse("dana").get(reverse("portal:dashboard")).content.decode())
    assert "My request" in box and "Sign-off</span>" not in box


def test_auditor_has_nothing_to_sign(browse, promotion):
    box = _attention(browse("audrey").get(reverse("portal:dashboard")).content.decode())
    assert "Nothing needs you right now." in box


def test_overdue_review_for_risk_officers_only(browse, inventory):
    Review.objects.create(version=inventory["version"], due_date=datetime.date(2020, 1, 1))
    assert "Periodic review of credit-gbm v1" in _attention(browse("rita").get(reverse("portal:dashboard")).content.decode())
    assert "Periodic review" not in _attention(browse("dana").get(reverse("portal:dashboard")).content.decode())


def test_a_provider_plugs_in_with_one_line(cast, monkeypatch):
    class Alert:
        created_at = timezone.now() - datetime.timedelta(days=2)
        due_date = None
        url = "/alerts/1/"

        def __str__(self):
            return "Drift on credit-gbm"

    monkeypatch.setattr(attention, "PROVIDERS", [*attention.PROVIDERS, attention.from_selector("alert", "Alert", lambda user: [Alert()])])
    items = attention.attention_for(cast["rita"])
    assert [(i["badge"], i["text"], i["url"], i["age_days"]) for i in items] == [("Alert", "Drift on credit-gbm", "/alerts/1/", 2)]


def test_feed_leaves_out_sign_ins(browse, inventory, cast):
    client = Client()
    client.post(reverse("login"), {"username": "rita", "password": "correct-horse-battery-42"})
    assert AuditEvent.objects.filter(action="auth.login", actor_username="rita").exists()
    page = client.get(reverse("portal:dashboard")).content.decode()
    feed = page.split('id="recent-events"')[1]
    assert "Signed in" not in feed and "Registered a model" in feed


def test_404_has_navigation(browse):
    response = browse("dana").get("/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert 'aria-label="Main"' in body and reverse("portal:inventory") in body


def test_500_page_has_navigation():
    from django.template.loader import render_to_string

    body = render_to_string("500.html")
    assert 'aria-label="Main"' in body and reverse("portal:dashboard") in body


def test_words_from_one_place():
    assert labels.approvals_needed("any", 1) == "1 approval from anyone who may approve"
    assert labels.approvals_needed("risk_officer", 2) == "2 approvals from a risk officer"
    assert labels.personal_data_label(True, "legitimate_interests") == "Yes — Legitimate interests (Art. 6(1)(f))"
    assert labels.personal_data_label(False) == "No"
    assert labels.action_label("promotion.request") == "Requested a promotion"
    assert labels.action_label("brand.new_thing") == "Brand: new thing"
    assert labels.stage_label("qa") == "QA"
    # Every action some service records has words.
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    recorded = set()
    # Every app of ours, every module in it (packages too), but not migrations.
    apps = [p.parent for p in root.glob("*/apps.py") if p.parent.name != "portal"]
    assert {"audit", "core", "registry", "governance", "abtests", "monitoring", "privacy", "fairness"} <= {a.name for a in apps}
    for app in apps:
        for path in app.rglob("*.py"):
            if "migrations" not in path.parts:
                recorded |= set(re.findall(r'action="([a-z_]+(?:\.[a-z_]+)+)"', path.read_text()))
    assert len(recorded) > 30  # the scan finds the services' actions at all
    assert recorded - set(labels.ACTIONS) == set()


def test_dataset_pages_show_personal_data_one_way(browse, inventory):
    body = browse("dana").get(reverse("portal:dataset", args=[inventory["datasets"][1].pk])).content.decode()
    assert "Yes — Contract (Art. 6(1)(b))" in body
