import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from django.conf import settings

from audit.exports import CSV_COLUMNS, exported_lines_verify
from audit.models import AuditEvent
from audit.services import audit_record

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


def _documented_recipe():
    """The stand-alone recipe of docs/operations.md ("Verifying an export offline"), run as
    printed there: an auditor runs those lines, not Steward's code, so the test does too, and an
    edit of the documented recipe is tested by the next run."""
    doc = (Path(settings.BASE_DIR) / "docs" / "operations.md").read_text(encoding="utf-8")
    section = doc.split("### Verifying an export offline", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    recipe: dict = {}
    exec(compile(code, "docs/operations.md", "exec"), recipe)  # noqa: S102 - our own documentation
    return recipe["verify_export"], recipe["checkpoint_signed"]


recipe_verify_export, recipe_checkpoint_signed = _documented_recipe()


def _rehash(events):
    """Re-hash a list of exported events with the recipe, as a forger would after an edit."""
    prev, out = "0" * 64, []
    for e in events:
        e = dict(e, prev_hash=prev)
        content = {k: v for k, v in e.items() if k not in ("id", "prev_hash", "hash")}
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        e["hash"] = prev = hashlib.sha256((prev + canonical).encode()).hexdigest()
        out.append(json.dumps(e, ensure_ascii=False))
    return out


def _export_lines(api):
    response = api("audrey").get("/api/v1/audit/events/export/?format=jsonl")
    assert response.status_code == 200
    return _body(response).splitlines()


def test_jsonl_export_reverifies_offline(api, cast):
    _events(4, cast["dana"])
    lines = _export_lines(api)
    exported = [json.loads(line) for line in lines]
    # Everything before the export's own event, oldest first: the whole chain so far.
    assert [e["seq"] for e in exported] == list(range(1, len(exported) + 1))
    assert exported[-1]["seq"] == AuditEvent.objects.get(action="audit.export").seq - 1
    assert recipe_verify_export(lines) == []
    assert exported_lines_verify(lines) == []


def test_tampered_exports_are_reported_by_the_recipe(api, cast):
    _events(5, cast["dana"])
    lines = _export_lines(api)
    exported = [json.loads(line) for line in lines]

    edited = dict(exported[2], changes={"i": 99})
    tampered = [*lines[:2], json.dumps(edited), *lines[3:]]
    assert recipe_verify_export(tampered) == ["line 3: content does not match its hash"]
    assert exported_lines_verify(tampered) == [f"line 3 (#{edited['seq']}): content does not match its hash"]

    dropped = [*lines[:2], *lines[3:]]  # a line removed from an unfiltered export
    assert recipe_verify_export(dropped) == [f"line 3: expected #3 after hash {exported[1]['hash'][:12]}"]
    assert exported_lines_verify(dropped) == ["line 3 (#4): expected #3, events are missing"]

    reordered = [lines[0], lines[2], lines[1], *lines[3:]]
    assert len(recipe_verify_export(reordered)) == 3
    assert exported_lines_verify(reordered)[0] == "line 2 (#3): expected #2, events are missing"

    # An edited line re-hashed onto its true predecessor: it fits, the next line no longer does.
    forged = _rehash([*exported[:2], dict(exported[2], changes={"i": 99})])[2]
    assert recipe_verify_export([*lines[:2], forged, *lines[3:]]) == [
        f"line 4: expected #4 after hash {json.loads(forged)['hash'][:12]}",
    ]


def test_filtered_export_gaps_are_not_breaks(api, cast):
    _events(2, cast["dana"])
    _events(2, cast["sam"])
    response = api("audrey").get("/api/v1/audit/events/export/?format=jsonl&actor=sam")
    lines = _body(response).splitlines()
    assert exported_lines_verify(lines, complete=False) == []
    assert exported_lines_verify(lines) != []  # not the whole chain


def test_rehashed_or_shortened_export_fails_against_the_checkpoint(api, cast, checkpoint_file):
    from audit.checkpoints import checkpoint_write

    _events(4, cast["dana"])
    checkpoint = checkpoint_write()
    lines = _export_lines(api)
    exported = [json.loads(line) for line in lines]
    key = open(checkpoint_file.parent / "checkpoint.key", encoding="utf-8").read().strip().encode()
    [stored] = [json.loads(line) for line in checkpoint_file.read_text().splitlines()]
    assert recipe_checkpoint_signed(stored, key)
    assert not recipe_checkpoint_signed(dict(stored, seq=stored["seq"] - 1), key)
    assert recipe_verify_export(lines, stored) == []

    # The documented recipe re-hashes an edited chain so that it links again — only the
    # checkpoint written before the edit tells.
    rehashed = _rehash([*exported[:1], dict(exported[1], object_repr="innocent"), *exported[2:]])
    assert recipe_verify_export(rehashed) == []
    assert recipe_verify_export(rehashed, stored) == [
        f"checkpoint #{checkpoint['seq']} not matched: tail deleted, truncated or re-hashed"
    ]
    assert exported_lines_verify(rehashed, checkpoint=stored) == [
        f"event #{checkpoint['seq']} does not match the checkpoint's hash (re-hashed chain)"
    ]
    shortened = lines[: checkpoint["seq"] - 1]  # the newest events deleted before exporting
    assert recipe_verify_export(shortened) == []
    assert recipe_verify_export(shortened, stored) != []
    assert exported_lines_verify(shortened, checkpoint=stored) == [
        f"the checkpoint names event #{checkpoint['seq']}, the export ends at #{checkpoint['seq'] - 1}"
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
