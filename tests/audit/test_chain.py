import json
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, transaction

from audit.models import AuditEvent
from audit.services import audit_record, canonical_content
from audit.verify import _row_canonical, audit_chain_verify

pytestmark = pytest.mark.django_db


def _events(n, actor=None):
    return [audit_record(action="test.event", actor=actor, object_type="x", object_id=str(i), changes={"i": i}) for i in range(n)]


def verify_body(response) -> dict:
    """The verify endpoint streams one JSON document."""
    assert response.status_code == 200
    assert response.streaming
    return json.loads(b"".join(response.streaming_content))


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


@pytest.mark.postgres
def test_trigger_lets_sealing_fill_only_an_empty_place(cast):
    """The one UPDATE allowed: giving an unsealed event its seq/prev_hash/hash, nothing else."""
    sealed = _events(1)[0]
    with pytest.raises(DatabaseError), transaction.atomic():  # a sealed event cannot be re-sealed
        AuditEvent.objects.filter(pk=sealed.pk).update(seq=999, hash="f" * 64)
    unsealed = AuditEvent.objects.create(timestamp=sealed.timestamp, action="test.unsealed")
    with pytest.raises(DatabaseError), transaction.atomic():  # nor content changed while sealing
        AuditEvent.objects.filter(pk=unsealed.pk).update(seq=999, hash="f" * 64, action="other")
    AuditEvent.objects.filter(pk=unsealed.pk).update(seq=999, prev_hash="e" * 64, hash="f" * 64)


def test_edited_event_detected(cast, tamper):
    events = _events(5)
    tamper("UPDATE audit_auditevent SET changes = %s WHERE id = %s", ['{"i": 99}', events[2].pk])
    report = audit_chain_verify()
    assert not report.ok
    assert report.first_broken_seq == events[2].seq
    assert "edited" in report.reason
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("verify_audit_chain")


def test_deleted_event_detected(cast, tamper):
    events = _events(5)
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    report = audit_chain_verify()
    assert not report.ok and report.first_broken_seq == events[2].seq


def test_reordered_events_detected(cast, tamper):
    events = _events(4)
    a, b = events[1], events[2]
    # Swap the positions of two events (their seq numbers), keeping their own hashes.
    tamper("UPDATE audit_auditevent SET seq = 999999999 WHERE id = %s", [a.pk])
    tamper("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [a.seq, b.pk])
    tamper("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [b.seq, a.pk])
    report = audit_chain_verify()
    assert not report.ok and report.first_broken_seq == a.seq


def test_verify_endpoint_reports_first_broken(api, cast, tamper):
    events = _events(3)
    body = verify_body(api("audrey").get("/api/v1/audit/verify/"))
    assert body["ok"] is True and body["first_broken"] is None
    assert body["progress"] == [0]
    tamper("UPDATE audit_auditevent SET action = 'x' WHERE id = %s", [events[0].pk])
    body = verify_body(api("audrey").get("/api/v1/audit/verify/"))
    assert body["ok"] is False
    assert body["first_broken"]["seq"] == events[0].seq


def test_verify_endpoint_streams_progress(api, cast, monkeypatch):
    monkeypatch.setattr("audit.verify.PROGRESS_EVERY", 2)
    _events(5)
    body = verify_body(api("audrey").get("/api/v1/audit/verify/"))
    total = AuditEvent.objects.count()
    assert body["progress"] == list(range(0, total + 1, 2))
    assert body["checked"] == total and body["ok"] is True


def test_events_filter_by_request_id(api, cast):
    api("dana").post("/api/v1/use-cases/", {"name": "Mine"}, HTTP_X_REQUEST_ID="req-1")
    body = api("audrey").get("/api/v1/audit/events/?request_id=req-1").json()
    assert [e["action"] for e in body["results"]] == ["use_case.create"]


@pytest.mark.parametrize("changes", [
    {}, {"b": 1, "a": [1, 2.5, None, True]}, {"ünïcødé": "→ \"quoted\" \\ \n\t\u2028", "nested": {"z": {}, "a": []}},
    {"emoji": "😀", "ctrl": "\x00\x1f", "big": 12345678901234567890, "neg": -0.0},
])
def test_fast_canonical_form_is_the_documented_one(changes):
    """The verifier builds the canonical JSON by hand for speed; it must equal json.dumps."""
    event = AuditEvent(
        seq=7, timestamp=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), actor_id=None, actor_username="ñame",
        action="a.b", object_type="x.y", object_id="42", object_repr="O'Brien \"v2\"", changes=changes,
        request_id="req", source_ip="2001:db8::1",
    )
    row = [event.action, event.actor_id, event.actor_username, event.changes, event.object_id, event.object_repr,
           event.object_type, event.request_id, event.seq, event.source_ip, event.timestamp.isoformat()]
    assert _row_canonical(*row) == canonical_content(event)
    event.actor_id, event.source_ip = 3, None
    row[1], row[9] = 3, None
    assert _row_canonical(*row) == canonical_content(event)


def test_rows_as_the_verifier_reads_them_hash_as_written(cast, frozen, jan):
    """The verifier's own read (PostgreSQL: a COPY, timestamp formatted by the database) gives
    back, as UTF-8 bytes, what `audit_record` hashed: whole and fractional seconds, addresses,
    awkward text (backslashes and control characters, which COPY's text format escapes)."""
    from audit.context import audit_context
    from audit.verify import _chain_rows

    with frozen(jan(1)), audit_context(source_ip="2001:db8::7"):
        audit_record(action="t\x01\x1f\b\f\n\r\t\\/", actor=cast["dana"], object_repr="ß \"q\" \u2028 😀 \x7f",
                     changes={"x": [1, {"é": None}], "b": -2.5, "a": 1e-05, "c": "\x02"})
    with frozen(jan(1).replace(microsecond=5)), audit_context(source_ip="192.0.2.1"):
        audit_record(action="t", object_type="x")
    audit_record(action="t")  # now, with whatever fraction it has
    events = {e.seq: e for e in AuditEvent.objects.all()}
    rows = list(_chain_rows())
    assert [r[1] for r in rows] == sorted(events)
    for _id, seq, _prev, _hash, canonical in rows:
        assert canonical == canonical_content(events[seq]).encode()


@pytest.mark.parametrize("text", [
    "2026-01-02 03:04:05", "2026-01-02 03:04:05.000006",  # as Django writes them (naive UTC)
    "2026-01-02T03:04:05.5", "2026-01-02 05:04:05.250000+02:00",  # written some other way
])
def test_sqlite_timestamp_text_reads_as_the_orm_reads_it(text):
    """SQLite: the verifier turns the stored text into `isoformat()` itself; it must give what
    the ORM's own conversion gives, for Django's format and for any other it accepts."""
    from django.db import connection

    from audit.verify import _sqlite_timestamp

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's text timestamps")
    assert _sqlite_timestamp(text) == connection.ops.convert_datetimefield_value(text, None, connection).isoformat()


def test_numbers_jsonb_prints_differently_verify(cast):
    """PostgreSQL's jsonb keeps no negative zero (`-0.0` reads back `0.0`) and prints a float
    written with an exponent as its digits (`1e+16` reads back `10000000000000000`, an integer
    to `json.loads`): the trail stores and hashes what jsonb gives back, so such events verify on
    both databases (a metric can be -0.0 or 1e16)."""
    changes = {"delta": -0.0, "list": [-0.0, 1.5, 1e16, -2.5e20, 1e-05, 12345678.5]}
    event = audit_record(action="test.event", object_type="x", changes=changes)
    assert audit_chain_verify().ok
    stored = AuditEvent.objects.get(pk=event.pk).changes
    assert json.dumps(stored, sort_keys=True) == (
        '{"delta": 0.0, "list": [0.0, 1.5, 10000000000000000, -250000000000000000000, 1e-05, 12345678.5]}'
    )
