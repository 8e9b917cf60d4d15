"""At 390 px (a phone), no main page of any role is wider than the screen: wide tables scroll
inside their card, never the page."""

import pytest
from django.urls import reverse

from governance.classification import classification_submit
from governance.promotions import promotion_request

from ..portal.conftest import LOW_RISK_ANSWERS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def _pages(inventory, promotion):
    use_case = inventory["use_case"].pk
    common = [
        reverse("portal:dashboard"), reverse("portal:inventory"), reverse("portal:model", args=["credit-gbm"]),
        reverse("portal:version", args=["credit-gbm", 1]), reverse("portal:use-cases"),
        reverse("portal:use-case", args=[use_case]), reverse("portal:raci", args=[use_case]),
        reverse("portal:classification", args=[use_case]), reverse("portal:datasets"),
        reverse("portal:dataset", args=[inventory["datasets"][1].pk]), reverse("portal:signoffs"),
        reverse("portal:promotion", args=[promotion.pk]), reverse("portal:experiments"), reverse("portal:policies"),
        reverse("portal:reviews"), reverse("portal:model-card", args=["credit-gbm", 1]), "/no-such-page/",
    ]
    return {
        "dana": [*common, reverse("portal:work"), reverse("portal:model-new"), reverse("portal:version-new", args=["credit-gbm"])],
        "rita": common,
        "audrey": [*common, reverse("portal:audit"), reverse("portal:audit-event", args=[1]),
                   reverse("portal:audit-point-in-time") + "?date=2030-01-01&stage=all"],
    }


def test_no_page_is_wider_than_a_phone(phone, login, inventory, cast):
    classification_submit(actor=cast["omar"], use_case=inventory["use_case"], answers=LOW_RISK_ANSWERS)
    promotion = promotion_request(actor=cast["dana"], version=inventory["version"], target_stage="qa")
    too_wide = []
    for who, urls in _pages(inventory, promotion).items():
        phone.context.clear_cookies()
        login(phone, who)
        for url in urls:
            phone.goto(url)
            width = phone.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                too_wide.append((who, url, width))
    assert too_wide == []
