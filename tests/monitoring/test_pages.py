"""The portal's monitoring page and its forms (services do the rules; the page shows refusals)."""

import pytest

from monitoring.models import Alert, DriftCheck, Monitor

from .conftest import ALL, W1, base_url, frame, run_check, to_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def drifted(monitored, upload, api):
    upload("dana", monitored, "batches", "b.csv", to_csv(frame(3000, seed=60, shift=0.7, cat_shift=True, scores=True)), **W1)
    run_check(api("dana").post(base_url(monitored) + "checks/", ALL, format="json").json()["id"])
    return monitored


def page_url(version, suffix=""):
    return f"/inventory/{version.model.name}/v/{version.number}/monitoring/{suffix}"


def test_page_shows_drift_per_feature_and_why(client, cast, drifted):
    client.force_login(cast["audrey"])
    r = client.get(page_url(drifted))
    assert r.status_code == 200
    text = r.content.decode()
    assert "Dataset drift" in text and "retraining recommended" in text
    assert '<tr data-feature="x0">' in text and "wasserstein" in text and "jensenshannon" in text
    assert r.context["feature"].feature == "colour"  # the first drifted feature, chosen by default
    assert r.context["chart"]["histogram"]["bins"] == ["blue", "green", "red"]
    assert r.context["perf_rows"][0]["metrics"][0]["estimated"] is not None  # CBPE from the scores
    r = client.get(page_url(drifted) + "?feature=x3")
    assert r.context["feature"].feature == "x3" and len(r.context["chart"]["histogram"]["reference"]) == 10
    # The version page links here with the status.
    assert "Dataset drift" in client.get(f"/inventory/{drifted.model.name}/v/{drifted.number}/").content.decode()


def test_forms_go_through_the_services(client, cast, drifted):
    alert = Alert.objects.get(version=drifted)
    client.force_login(cast["dana"])
    r = client.post(page_url(drifted, "check/"), follow=True)
    assert r.status_code == 200 and DriftCheck.objects.filter(version=drifted).count() == 2
    client.post(page_url(drifted, "schedule/"), {"schedule_minutes": "30", "window_hours": "6"})
    assert Monitor.objects.get(version=drifted).schedule_minutes == 30
    client.post(page_url(drifted, f"alerts/{alert.pk}/acknowledge/"))
    r = client.post(page_url(drifted, f"alerts/{alert.pk}/close/"), {"comment": "mine"}, follow=True)
    assert "does not own the model" in r.content.decode()  # refused by the service, shown
    alert.refresh_from_db()
    assert alert.status == "acknowledged"
    client.force_login(cast["rita"])
    client.post(page_url(drifted, f"alerts/{alert.pk}/close/"), {"comment": "Retraining planned for v2"})
    alert.refresh_from_db()
    assert alert.status == "closed" and alert.close_comment == "Retraining planned for v2"
    assert client.post(page_url(drifted, f"alerts/{alert.pk}/delete/")).status_code == 404


def test_auditor_sees_no_forms_and_cannot_post(client, cast, drifted):
    client.force_login(cast["audrey"])
    text = client.get(page_url(drifted)).content.decode()
    assert "Run a drift check" not in text and "Acknowledge" not in text
    r = client.post(page_url(drifted, "check/"), follow=True)
    assert DriftCheck.objects.filter(version=drifted).count() == 1 and "ask for checks" in r.content.decode()


def test_inventory_filters_models_by_open_alerts(client, cast, drifted):
    """Issue 10: alerts show in the inventory's alert filter, and a closed alert leaves it."""
    client.force_login(cast["rita"])
    with_alert = client.get("/inventory/", {"alert": "open"})
    assert [m.name for m in with_alert.context["page"]] == [drifted.model.name]
    assert "open alert" in with_alert.content.decode()
    assert drifted.model.name not in [m.name for m in client.get("/inventory/", {"alert": "none"}).context["page"]]
    Alert.objects.filter(version=drifted).update(status=Alert.Status.CLOSED)
    assert not list(client.get("/inventory/", {"alert": "open"}).context["page"])


def test_dashboard_shows_open_alerts_until_closed(client, cast, drifted):
    client.force_login(cast["rita"])
    panel = client.get("/").content.decode().split('id="monitoring-panel"')[1].split("</section>")[0]
    assert f"alert on {drifted}" in panel and page_url(drifted) in panel
    Alert.objects.filter(version=drifted).update(status=Alert.Status.CLOSED)
    panel = client.get("/").content.decode().split('id="monitoring-panel"')[1].split("</section>")[0]
    assert "No open drift or performance alert." in panel
