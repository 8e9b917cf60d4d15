"""The auditors' console: readable actions, rendered changes, filters, export of the filtered set,
chain status, point in time. The auditor role is enough to reach it."""

import datetime
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.checkpoints import checkpoint_write
from audit.exports import exported_lines_verify
from audit.models import AuditEvent
from governance.classification import classification_submit
from governance.promotions import promotion_request, signoff_approve
from governance.raci import raci_update
from registry import services as registry_services

from .conftest import LOW_RISK_ANSWERS

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(inventory, cast):
    """Two use cases and models; credit-gbm v1 promoted to QA with rita's approval."""
    churn = registry_services.use_case_create(actor=cast["sam"], name="Churn")
    registry_services.model_create(actor=cast["sam"], name="churn-lr", use_case=churn)
    classification_submit(actor=cast["omar"], use_case=inventory["use_case"], answers=LOW_RISK_ANSWERS)
    promotion = promotion_request(actor=cast["dana"], version=inventory["version"], target_stage="qa")
    signoff_approve(promotion=promotion, actor=cast["rita"], comment="ok")
    return {**inventory, "churn": churn}


def test_the_auditor_role_alone_reaches_the_console(browse, cast, trail):
    type(cast["audrey"]).objects.filter(pk=cast["audrey"].pk).update(is_staff=False)  # the role, not staff status
    page = browse("audrey").get(reverse("portal:audit"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Registered a model version" in body and "Moved a version to another stage" in body
    assert reverse("portal:audit") in body  # the nav's Audit link points at the console


def test_people_without_the_view_permission_are_refused(browse, trail):
    for who in ("dana", "nobody"):
        assert browse(who).get(reverse("portal:audit")).status_code == 403
        assert browse(who).get(reverse("portal:audit-export"), {"format": "csv"}).status_code == 403
        assert browse(who).get(reverse("portal:audit-point-in-time")).status_code == 403


def test_changes_are_rendered_as_before_and_after_not_json(browse, trail):
    event = AuditEvent.objects.get(action="model_version.stage_change")
    body = browse("audrey").get(reverse("portal:audit-event", args=[event.seq])).content.decode()
    assert '<td class="before">Development</td><td class="after">QA</td>' in body
    assert "&quot;before&quot;" not in body and "{&quot;" not in body


def test_nested_changes_show_only_the_leaves_that_changed(browse, trail, cast):
    raci_update(actor=cast["rita"], use_case=trail["use_case"], assignments={"risk_audit": ["rita"]})
    event = AuditEvent.objects.filter(action="raci.update").latest("seq")
    body = browse("audrey").get(reverse("portal:audit-event", args=[event.seq])).content.decode()
    assert "Assignments › risk_audit" in body
    assert "Assignments</th>" not in body and "Assignments › </th>" not in body  # no row for the empty dict before
    assert "Cells" not in body  # the matrix did not change


@pytest.mark.parametrize(("query", "present", "absent"), [
    ({"model": "churn-lr"}, "churn-lr", "credit-gbm v1"),
    ({"person": "sam"}, "churn-lr", "credit-gbm v1"),
    ({"action": "signoff.approve"}, "Approved a promotion", "Registered a model"),
])
def test_filters(browse, trail, query, present, absent):
    body = browse("audrey").get(reverse("portal:audit"), query).content.decode()
    listing = body.split('aria-label="Audit events, newest first"')[1]
    assert present in listing and absent not in listing


def test_use_case_filter_covers_its_models_and_itself(browse, trail):
    body = browse("audrey").get(reverse("portal:audit"), {"use_case": trail["use_case"].pk}).content.decode()
    listing = body.split('aria-label="Audit events, newest first"')[1]
    assert "credit-gbm v1" in listing and "Classified a use case" in listing and "churn-lr" not in listing


def test_period_filter(browse, trail):
    today = timezone.localdate()
    tomorrow, yesterday = (today + datetime.timedelta(days=1)).isoformat(), (today - datetime.timedelta(days=1)).isoformat()
    client = browse("audrey")
    assert "No events match." in client.get(reverse("portal:audit"), {"since": tomorrow}).content.decode()
    assert "No events match." in client.get(reverse("portal:audit"), {"until": yesterday}).content.decode()
    # Both ends inclusive: today's events are in a period that starts and ends today.
    inside = client.get(reverse("portal:audit"), {"since": today.isoformat(), "until": today.isoformat()}).content.decode()
    assert "No events match." not in inside and "Registered a model version" in inside


def test_export_streams_the_filtered_set_as_verifiable_json_lines(browse, trail):
    response = browse("audrey").get(reverse("portal:audit-export"), {"model": "credit-gbm", "format": "jsonl"})
    assert response.status_code == 200 and response.streaming
    lines = b"".join(response.streaming_content).decode().splitlines()
    events = [json.loads(line) for line in lines]
    assert events and all("credit-gbm" in (e["object_repr"] + json.dumps(e["changes"])) for e in events)
    assert {e["action"] for e in events} >= {"model.create", "model_version.register", "model_version.stage_change"}
    assert exported_lines_verify(lines, complete=False) == []  # filtered: each line verifies, gaps expected
    recorded = AuditEvent.objects.filter(action="audit.export").latest("seq")
    assert recorded.actor_username == "audrey" and recorded.changes["filters"] == {"model": "credit-gbm"}
    assert recorded.changes["via"] == "portal"


def test_export_csv_has_a_header_and_the_rows(browse, trail):
    response = browse("audrey").get(reverse("portal:audit-export"), {"action": "signoff.approve", "format": "csv"})
    rows = b"".join(response.streaming_content).decode().splitlines()
    assert rows[0].startswith("id,seq,timestamp") and len(rows) == 2 and "signoff.approve" in rows[1]


def test_chain_status_reports_intact_and_the_latest_checkpoint(browse, trail, settings, tmp_path):
    settings.STEWARD_AUDIT_CHECKPOINT_FILE = str(tmp_path / "checkpoints.jsonl")
    settings.STEWARD_AUDIT_CHECKPOINT_KEY = "test-checkpoint-key"
    body = browse("audrey").get(reverse("portal:audit-chain")).content.decode()
    assert "Chain intact" in body and "No sealed checkpoint yet." in body
    sealed = checkpoint_write()
    body = browse("audrey").get(reverse("portal:audit-chain")).content.decode()
    assert f"Latest sealed checkpoint: up to event #{sealed['seq']}" in body and sealed["hash"] in body


def test_point_in_time_names_version_approver_and_policy(browse, trail, cast):
    registry_services.model_version_register(actor=cast["dana"], model=trail["model"], artifact_uri="s3://m/2", sha256="2" * 64)
    client = browse("audrey")
    today = timezone.localdate().isoformat()
    body = client.get(reverse("portal:audit-point-in-time"), {"date": today, "stage": "qa"}).content.decode()
    table = body.split('class="pit"')[1]
    assert ">credit-gbm</a>" in table and "v1" in table and "rita" in table and "Policy v1" in table
    assert "v2" not in table  # v2 stayed in development
    before = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    earlier = client.get(reverse("portal:audit-point-in-time"), {"date": before, "stage": "qa"}).content.decode()
    assert "No version was in this stage then." in earlier


def test_point_in_time_rejects_a_bad_date(browse, trail):
    assert browse("audrey").get(reverse("portal:audit-point-in-time"), {"date": "yesterday"}).status_code == 400


def test_giving_the_auditor_role_opens_the_admin_console_too(make_user, db):
    from django.contrib.auth.models import Group
    from django.test import Client

    ada = make_user("ada")
    assert not ada.is_staff
    ada.groups.add(Group.objects.get(name="auditor"))
    ada.refresh_from_db()
    assert ada.is_staff
    client = Client()
    client.force_login(ada)
    assert client.get("/admin/audit/auditevent/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.staff_grant", object_repr="ada").exists()
    # The other way round, and a data scientist's role grants nothing.
    bob, dan = make_user("bob"), make_user("dan", "data_scientist")
    Group.objects.get(name="risk_officer").user_set.add(bob)
    bob.refresh_from_db()
    dan.refresh_from_db()
    assert bob.is_staff and not dan.is_staff


def test_console_runs_the_same_queries_at_30_and_300_events(browse, trail, cast):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from audit.services import audit_record

    client = browse("audrey")
    url = reverse("portal:audit")

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url, {"person": "dana"}).status_code == 200
        return len(ctx.captured_queries)

    small = count()
    for i in range(270):
        audit_record(action="dataset.update", actor=cast["dana"], object_type="registry.dataset", object_id=str(i),
                     object_repr=f"ds-{i}", changes={"description": {"before": "", "after": f"v{i}"}})
    # Session, user, the three pickers (models, use cases, people), the count and the page: none per row.
    assert count() == small
