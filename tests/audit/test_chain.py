import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from audit.models import AuditEvent
from audit.services import audit_chain_verify, audit_record

pytestmark = pytest.mark.django_db


def _events(n, actor=None):
    return [audit_record(action="test.event", actor=actor, object_type="x", object_id=str(i), changes={"i": i}) for i in range(n)]


def _without_trigger(sql, params=()):
    """Tamper as a database owner would: disable the append-only trigger for one statement.

    The trigger is PostgreSQL's; on SQLite the statement runs as it is."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        return
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")


def test_intact_chain_verifies(cast):
    _events(5, cast["dana"])
    report = audit_chain_verify()
    assert report.ok and report.checked == AuditEvent.objects.count()
    call_command("verify_audit_chain")


@pytest.mark.postgres
def test_trigger_refuses_update_and_delete(cast):
    event = _events(1)[0]
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_edited_event_detected(cast):
    events = _events(5)
    _without_trigger("UPDATE audit_auditevent SET changes = %s WHERE id = %s", ['{"i": 99}', events[2].pk])
    report = audit_chain_verify()
    assert not report.ok
    assert report.first_broken_seq == events[2].seq
    assert "edited" in report.reason
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("verify_audit_chain")


def test_deleted_event_detected(cast):
    events = _events(5)
    _without_trigger("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    report = audit_chain_verify()
    assert not report.ok and report.first_broken_seq == events[2].seq


def test_reordered_events_detected(cast):
    events = _events(4)
    a, b = events[1], events[2]
    # Swap the positions of two events (their seq numbers), keeping their own hashes.
    _without_trigger("UPDATE audit_auditevent SET seq = 999999999 WHERE id = %s", [a.pk])
    _without_trigger("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [a.seq, b.pk])
    _without_trigger("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [b.seq, a.pk])
    report = audit_chain_verify()
    assert not report.ok and report.first_broken_seq == a.seq


def test_verify_endpoint_reports_first_broken(api, cast):
    events = _events(3)
    assert api("audrey").get("/api/v1/audit/verify/").json()["ok"] is True
    _without_trigger("UPDATE audit_auditevent SET action = 'x' WHERE id = %s", [events[0].pk])
    body = api("audrey").get("/api/v1/audit/verify/").json()
    assert body["ok"] is False
    assert body["first_broken"]["seq"] == events[0].seq


def test_events_filter_by_request_id(api, cast):
    api("dana").post("/api/v1/use-cases/", {"name": "Mine"}, HTTP_X_REQUEST_ID="req-1")
    body = api("audrey").get("/api/v1/audit/events/?request_id=req-1").json()
    assert [e["action"] for e in body["results"]] == ["use_case.create"]
