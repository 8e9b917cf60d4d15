import csv
import io
import json

import pytest

from audit.exports import CSV_COLUMNS, exported_lines_verify
from audit.models import AuditEvent
from audit.services import audit_record, hash_of

pytestmark = pytest.mark.django_db


def _body(response) -> str:
    assert response.streaming, "exports must stream"
    return b"".join(response.streaming_content).decode()


def _events(n, actor=None, action="test.event"):
    return [
        audit_record(action=action, actor=actor, object_type="x", object_id=str(i), object_repr=f"thing {i}", changes={"i": i})
        for i in range(n)
    ]


def test_csv_export_applies_the_list_filters(api, cast):
    _events(3, cast["dana"], action="test.kept")
    _events(2, cast["sam"], action="test.kept")
    _events(2, cast["dana"], action="test.other")
    response = api("audrey").get("/api/v1/audit/events/export/?format=csv&action=test.kept&actor=dana")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    assert list(rows[0].keys()) == CSV_COLUMNS
    assert [(r["action"], r["actor_username"], r["object_id"]) for r in rows] == [
        ("test.kept", "dana", "0"), ("test.kept", "dana", "1"), ("test.kept", "dana", "2"),
    ]
    # Oldest first, and `changes` is JSON a reader can parse back.
    assert [int(r["seq"]) for r in rows] == sorted(int(r["seq"]) for r in rows)
    assert json.loads(rows[1]["changes"]) == {"i": 1}


def test_csv_neutralises_spreadsheet_formulas(api, cast):
    audit_record(action="test.event", object_type="x", object_repr="=HYPERLINK(\"http://evil\")")
    rows = list(csv.DictReader(io.StringIO(_body(api("audrey").get("/api/v1/audit/events/export/?action=test.event")))))
    assert rows[0]["object_repr"] == "'=HYPERLINK(\"http://evil\")"


def test_jsonl_export_reverifies_offline(api, cast):
    _events(4, cast["dana"])
    response = api("audrey").get("/api/v1/audit/events/export/?format=jsonl")
    assert response.status_code == 200
    lines = _body(response).splitlines()
    exported = [json.loads(line) for line in lines]
    # Everything before the export's own event, oldest first: the whole chain so far.
    assert [e["seq"] for e in exported] == list(range(1, len(exported) + 1))
    assert exported[-1]["seq"] == AuditEvent.objects.get(action="audit.export").seq - 1
    assert exported_lines_verify(lines) == []

    edited = json.loads(lines[2])
    edited["changes"] = {"i": 99}
    tampered = [*lines[:2], json.dumps(edited), *lines[3:]]
    assert exported_lines_verify(tampered) == [f"line 3 (#{edited['seq']}): content does not match its hash"]
    dropped = [*lines[:2], *lines[3:]]
    assert exported_lines_verify(dropped) == []  # a gap in seq is a filter, not a break
    reordered = [lines[0], lines[2], lines[1], *lines[3:]]
    assert exported_lines_verify(reordered) == [f"line 3 (#{exported[1]['seq']}): out of order after #{exported[2]['seq']}"]
    forged = dict(exported[2], prev_hash="f" * 64)
    forged["hash"] = hash_of(forged["prev_hash"], {k: v for k, v in forged.items() if k not in ("id", "prev_hash", "hash")})
    relinked = [*lines[:2], json.dumps(forged), *lines[3:]]
    # A re-hashed forgery breaks the links on both sides of it.
    assert exported_lines_verify(relinked) == [
        f"line 3 (#{forged['seq']}): prev_hash does not match #{exported[1]['seq']}",
        f"line 4 (#{exported[3]['seq']}): prev_hash does not match #{forged['seq']}",
    ]


def test_export_is_recorded_with_its_filter(api, cast):
    _events(2, cast["dana"])
    _body(api("rita").get("/api/v1/audit/events/export/?format=jsonl&actor=dana&since=2020-01-01T00:00:00Z"))
    event = AuditEvent.objects.get(action="audit.export")
    assert event.actor_username == "rita"
    assert event.changes == {
        "format": "jsonl", "via": "api", "filters": {"actor": "dana", "since": "2020-01-01T00:00:00Z"},
    }


@pytest.mark.parametrize(("user", "status"), [("audrey", 200), ("rita", 200), ("root", 200), ("dana", 403), ("nobody", 403)])
def test_who_may_export(api, cast, user, status):
    response = api(user).get("/api/v1/audit/events/export/")
    assert response.status_code == status
    if status == 403:
        assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_export_refuses_anonymous(api):
    assert api().get("/api/v1/audit/events/export/").status_code in (401, 403)


def test_export_bad_input_is_400_with_field_errors(api, cast):
    response = api("audrey").get("/api/v1/audit/events/export/?format=xml")
    assert response.status_code == 400
    assert response.json()["errors"] == {"format": ["Choose one of: csv, jsonl."]}
    response = api("audrey").get("/api/v1/audit/events/export/?since=yesterday")
    assert response.status_code == 400
    assert "since" in response.json()["errors"]
    assert not AuditEvent.objects.filter(action="audit.export").exists()
