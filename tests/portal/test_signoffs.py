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
    response = client.post(url, {"decision": "approve", "comment": "fine"}, follow=True)
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
