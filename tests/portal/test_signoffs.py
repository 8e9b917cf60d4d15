"""The sign-off inbox and the promotion page call governance's services and explain refusals."""

import pytest
from django.urls import reverse

from governance.models import PromotionRequest

pytestmark = pytest.mark.django_db


def test_inbox_lists_others_requests_not_my_own(browse, promotion):
    assert f"#{promotion.pk}" in browse("rita").get(reverse("portal:signoffs")).content.decode()
    own = browse("dana").get(reverse("portal:signoffs")).content.decode()
    assert "Nothing awaits your sign-off" in own and "My requests" in own
    dashboard = browse("rita").get(reverse("portal:dashboard")).content.decode()
    assert reverse("portal:promotion", args=[promotion.pk]) in dashboard


def test_risk_officer_approves_and_the_version_moves(browse, promotion, inventory):
    url = reverse("portal:promotion", args=[promotion.pk])
    client = browse("rita")
    page = client.get(url).content.decode()
    assert "Gate checklist" in page and "Approve" in page
    assert "This approval moves credit-gbm v1 to qa." in page
    # The approval completes the gates: the page asks to confirm what it moves first.
    asked = client.post(url, {"decision": "approve", "comment": "fine"})
    assert asked.status_code == 200 and 'id="confirm-approval"' in asked.content.decode()
    promotion.refresh_from_db()
    assert promotion.status == PromotionRequest.Status.OPEN
    response = client.post(url, {"decision": "approve", "comment": "fine", "confirmed": "yes"}, follow=True)
    assert "Your approval is recorded." in response.content.decode()
    promotion.refresh_from_db()
    inventory["version"].refresh_from_db()
    assert promotion.status == PromotionRequest.Status.PROMOTED
    assert inventory["version"].stage == "qa"


def test_requester_cannot_approve_and_is_told_why(browse, promotion):
    url = reverse("portal:promotion", args=[promotion.pk])
    response = browse("dana").post(url, {"decision": "approve"}, follow=True)
    assert "separation of duties" in response.content.decode()
    promotion.refresh_from_db()
    assert promotion.status == PromotionRequest.Status.OPEN


def test_reject_needs_a_comment(browse, promotion):
    url = reverse("portal:promotion", args=[promotion.pk])
    response = browse("rita").post(url, {"decision": "reject", "comment": ""}, follow=True)
    assert "Say why you reject." in response.content.decode()
    browse("rita").post(url, {"decision": "reject", "comment": "no monitoring plan"})
    promotion.refresh_from_db()
    assert promotion.status == PromotionRequest.Status.REJECTED


def test_notification_link_opens_the_promotion_page(cast):
    """The link mailed to approvers is the portal page where they sign (settings path ↔ URLconf)."""
    from django.conf import settings
    from django.urls import reverse

    assert settings.STEWARD_PROMOTION_PAGE_PATH.format(id=42) == reverse("portal:promotion", args=[42])


@pytest.mark.parametrize("who", ["audrey"])
def test_auditor_cannot_approve_through_the_portal(browse, promotion, who):
    """Issue 8 point 1: the portal only checked login; the service now refuses, and the refusal
    is audited in its own transaction. (A role-less account does not reach the page at all:
    tests/portal/test_pages.py.)"""
    from audit.models import AuditEvent

    url = reverse("portal:promotion", args=[promotion.pk])
    page = browse(who).get(url).content.decode()
    assert 'value="approve"' not in page and 'value="reject"' not in page
    response = browse(who).post(url, {"decision": "approve", "comment": "sneaky", "confirmed": "yes"}, follow=True)
    assert "does not sign off promotions" in response.content.decode()
    promotion.refresh_from_db()
    assert promotion.status == PromotionRequest.Status.OPEN and not promotion.signoffs.exists()
    refused = AuditEvent.objects.get(action="access.refused", actor_username=who)
    assert refused.changes["attempted"]["after"] == "signoff.approve"
    assert refused.object_id == str(promotion.pk)


def test_page_names_who_fills_each_remaining_slot(browse, promotion, cast):
    from governance.policy import policy_update
    from governance.promotions import promotion_request, promotion_withdraw, signoff_approve
    from governance.selectors import policy_current

    data = policy_current().data
    data["tiers"]["1"]["sign_off"] = [
        {"text": "", "gate": "approvals", "params": {"role": "risk_officer", "count": 2}, "stages": ["qa"]},
    ]
    policy_update(actor=cast["rita"], data=data)
    promotion_withdraw(promotion=promotion, actor=cast["dana"])
    strict = promotion_request(actor=cast["dana"], version=promotion.version, target_stage="qa")
    signoff_approve(promotion=strict, actor=cast["rita"], comment="ok")
    page = browse("omar").get(reverse("portal:promotion", args=[strict.pk])).content.decode()
    assert "Filled</span> — risk officer: <strong>rita</strong>" in page
    assert "Open</span> — risk officer:" in page and "omar" in page
    assert "This approval moves credit-gbm v1 to qa." in page
    # sam is a data scientist: the slots ask for risk officers, so he sees no buttons and why.
    sam = browse("sam").get(reverse("portal:promotion", args=[strict.pk])).content.decode()
    assert 'value="approve"' not in sam
    assert "The approvals still needed are from risk officer; your approval would fill none of them." in sam
    inbox = browse("sam").get(reverse("portal:signoffs")).content.decode()
    assert f"#{strict.pk}" not in inbox
    inbox = browse("omar").get(reverse("portal:signoffs")).content.decode()
    assert f"#{strict.pk}" in inbox and "(0 days)" in inbox


def test_inbox_shows_due_date_and_overdue(browse, promotion):
    from datetime import timedelta

    from django.utils import timezone

    PromotionRequest.objects.filter(pk=promotion.pk).update(created_at=timezone.now() - timedelta(days=11))
    inbox = browse("rita").get(reverse("portal:signoffs")).content.decode()
    assert "(11 days)" in inbox and "(overdue)" in inbox  # tier 1: due within 10 days


def test_inbox_queries_do_not_grow_with_requests(browse, promotion, cast, inventory):
    """The inbox asks governance.approvals about every row from prefetched data: the number of
    queries is the same for 1 and for 21 open requests."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from registry import services as registry

    def count():
        client = browse("rita")
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("portal:signoffs")).status_code == 200
        return len(ctx.captured_queries)

    before = count()
    from governance.promotions import promotion_request

    for i in range(20):
        v = registry.model_version_register(actor=cast["dana"], model=inventory["model"], artifact_uri=f"s3://{i}", sha256=f"{i:064d}")
        promotion_request(actor=cast["dana"], version=v, target_stage="qa")
    assert count() == before
    assert browse("rita").get(reverse("portal:signoffs")).content.decode().count("/promotions/") >= 21
