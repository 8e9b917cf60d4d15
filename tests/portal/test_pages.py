"""The portal's pages render for the cast, show the inventory, and refuse what they must."""

import pytest
from django.urls import reverse

from core.models import BackgroundJob
from registry import services

pytestmark = pytest.mark.django_db


def test_pages_require_login(client):
    response = client.get(reverse("portal:inventory"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_dashboard_shows_counts_chart_and_governance_events_not_sign_ins(browse, inventory):
    page = browse("audrey").get(reverse("portal:dashboard")).content.decode()
    assert 'id="stage-chart"' in page and "chart.umd.min.js" in page
    assert "Model versions per stage" in page
    feed = page.split('id="recent-events"')[1]
    assert "Registered a model version" in feed and "credit-gbm v1" in feed  # a governance event, in words
    assert "model_version.register" not in feed and "Signed in" not in feed


def test_inventory_filters(browse, inventory, cast):
    other = services.use_case_create(actor=cast["sam"], name="Churn")
    services.model_create(actor=cast["sam"], name="churn-lr", use_case=other, tags=["retention"])
    client = browse("rita")
    url = reverse("portal:inventory")
    both = client.get(url).content.decode()
    assert "credit-gbm" in both and "churn-lr" in both
    for query, shown, hidden in [
        ({"owner": "sam"}, "churn-lr", "credit-gbm"),
        ({"tag": "credit"}, "credit-gbm", "churn-lr"),
        ({"use_case": other.pk}, "churn-lr", "credit-gbm"),
        ({"stage": "development"}, "credit-gbm", "churn-lr"),  # churn-lr has no versions
        ({"q": "churn"}, "churn-lr", "credit-gbm"),
    ]:
        page = client.get(url, query).content.decode()
        assert f">{shown}</a>" in page and f">{hidden}</a>" not in page, query


def test_model_page_renders_markdown_and_lineage_both_ways(browse, inventory, cast):
    services.model_update(
        actor=cast["dana"], model=inventory["model"], description="**Bold** claim <script>alert(1)</script>"
    )
    client = browse("sam")
    page = client.get(reverse("portal:model", args=["credit-gbm"])).content.decode()
    assert "<strong>Bold</strong>" in page and "<script>alert" not in page
    accounts = inventory["datasets"][0]
    assert reverse("portal:dataset", args=[accounts.pk]) in page
    dataset_page = client.get(reverse("portal:dataset", args=[accounts.pk])).content.decode()
    assert reverse("portal:version", args=["credit-gbm", 1]) in dataset_page


def test_version_page_shows_metrics_and_recheck_only_to_writers(browse, inventory):
    url = reverse("portal:version", args=["credit-gbm", 1])
    page = browse("dana").get(url).content.decode()
    assert "auc" in page and "Re-check artifact" in page
    assert "Re-check artifact" not in browse("sam").get(url).content.decode()


def test_recheck_starts_a_job_and_the_partial_polls_until_finished(browse, inventory, cast):
    url = reverse("portal:version-artifact-check", args=["credit-gbm", 1])
    response = browse("dana").post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    job = BackgroundJob.objects.filter(created_by=cast["dana"], kind="artifact_verify").latest("pk")
    body = response.content.decode()
    assert 'hx-trigger="every 1s"' in body and reverse("portal:job", args=[job.pk]) in body
    BackgroundJob.objects.filter(pk=job.pk).update(status="succeeded", progress=100, message="Artifact matches")
    done = browse("dana").get(reverse("portal:job", args=[job.pk])).content.decode()
    assert "Artifact matches" in done and "hx-trigger" not in done


def test_recheck_refused_for_others_with_a_message(browse, inventory):
    url = reverse("portal:version-artifact-check", args=["credit-gbm", 1])
    before = BackgroundJob.objects.count()
    response = browse("sam").post(url, HTTP_HX_REQUEST="true")
    assert "Only the model&#x27;s owner" in response.content.decode()
    assert BackgroundJob.objects.count() == before


def test_use_case_and_dataset_lists(browse, inventory):
    client = browse("sam")  # any role reads the inventory; sam owns none of it
    assert "Credit limits" in client.get(reverse("portal:use-cases")).content.decode()
    detail = client.get(reverse("portal:use-case", args=[inventory["use_case"].pk])).content.decode()
    assert "credit-gbm" in detail
    assert "bureau@1" in client.get(reverse("portal:datasets")).content.decode()


def test_roleless_user_is_refused_the_portal_as_by_the_api(browse, inventory, cast):
    """A signed-in account without a role reads nothing in the portal, as the API refuses it
    (core.roles.is_steward_user decides for both), and a refused write is audited."""
    from rest_framework.test import APIClient

    from audit.models import AuditEvent

    client = browse("nobody")
    api = APIClient()
    api.force_authenticate(cast["nobody"])
    uc = inventory["use_case"]
    for page, endpoint in [
        (reverse("portal:use-cases"), reverse("api:use-case-list")),
        (reverse("portal:use-case", args=[uc.pk]), reverse("api:use-case-detail", args=[uc.pk])),
        (reverse("portal:datasets"), reverse("api:dataset-list")),
        (reverse("portal:dashboard"), reverse("api:api-root")),
    ]:
        response = client.get(page)
        assert (response.status_code, api.get(endpoint).status_code) == (403, 403), page
        body = response.content.decode()
        assert "holds no role" in body and "Credit limits" not in body and "credit-gbm" not in body
    url = reverse("portal:version-artifact-check", args=["credit-gbm", 1])
    before = BackgroundJob.objects.count()
    assert client.post(url).status_code == 403
    assert BackgroundJob.objects.count() == before
    refused = AuditEvent.objects.get(action="access.refused", actor_username="nobody")
    assert refused.changes["attempted"]["after"] == f"POST {url}"
    # The same person with a role is let in.
    from django.contrib.auth.models import Group

    cast["nobody"].groups.add(Group.objects.get(name="data_scientist"))
    assert browse("nobody").get(reverse("portal:use-cases")).status_code == 200


def test_login_page_explains_failure_and_lockout(client, cast, settings):
    settings.AXES_ENABLED = True
    url = reverse("login")
    for _ in range(4):
        page = client.post(url, {"username": "dana", "password": "wrong"}).content.decode()
        assert "username or password is not correct" in page
    locked = client.post(url, {"username": "dana", "password": "wrong"})
    assert "Account temporarily locked" in locked.content.decode()


def test_sign_out_is_a_post(browse):
    client = browse("dana")
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("portal:dashboard")).status_code == 302  # signed out


def test_inventory_filters_by_risk_tier(browse, promotion, cast):
    # `promotion` classified dana's use case as tier 1; sam's stays unclassified.
    other = services.use_case_create(actor=cast["sam"], name="Churn")
    services.model_create(actor=cast["sam"], name="churn-lr", use_case=other)
    page = browse("rita").get(reverse("portal:inventory"), {"tier": 1}).content.decode()
    assert ">credit-gbm</a>" in page and ">churn-lr</a>" not in page
    assert ">churn-lr</a>" not in browse("rita").get(reverse("portal:inventory"), {"tier": 3}).content.decode()


def test_dashboard_counts_models_by_tier(browse, promotion):
    page = browse("rita").get(reverse("portal:dashboard")).content.decode()
    assert "Models per risk tier" in page
    tier1 = page.split(f'href="{reverse("portal:inventory")}?tier=1"')[1].split("</tr>")[0]
    assert '<td class="num">1</td>' in tier1  # credit-gbm's use case is tier 1
