"""Export of the audit trail as CSV or JSON lines — the one implementation behind the API's
`/api/v1/audit/events/export/` and the admin's export actions.

Both formats stream the events oldest first (`seq` ascending) straight from a database cursor,
so a large trail never sits in memory. Every export is itself recorded (`audit.export`: who, which
format, which filters) and covers the trail up to, not including, that event.

JSON lines (`jsonl`) — one event per line, an object with the keys `id`, `seq`, `timestamp`,
`actor_id`, `actor_username`, `action`, `object_type`, `object_id`, `object_repr`, `changes`,
`request_id`, `source_ip`, `prev_hash`, `hash`. This is the format to re-verify offline, with the
stand-alone recipe of docs/operations.md ("Verifying an export offline"): each line matches its
hash, an unfiltered export links line to line from the genesis hash, and it reaches the latest
signed checkpoint written before it with the same hash. `exported_lines_verify` does the same.

CSV — a header row and one row per event with the columns `CSV_COLUMNS` (the same fields as JSON
lines; `changes` is its canonical JSON). CSV is meant for spreadsheets: a text cell starting with
`=`, `+`, `-`, `@`, tab or carriage return is prefixed with `'` so a spreadsheet does not run it as
a formula. Re-verify from the JSON lines export, not from CSV.
"""

import csv
import json
from collections.abc import Iterable, Iterator

from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.utils import timezone

from .models import AuditEvent
from .selectors import audit_sees_sensitive, events_visible_to
from .services import GENESIS_HASH, audit_record, audit_seal, canonical_json, hash_of, hashed_fields

EXPORT_PERMISSION = "audit.export_auditevent"
FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
CSV_COLUMNS = [
    "id", "seq", "timestamp", "actor_id", "actor_username", "action", "object_type", "object_id",
    "object_repr", "changes", "request_id", "source_ip", "prev_hash", "hash",
]
CHUNK_SIZE = 1000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def event_export_dict(event: AuditEvent) -> dict:
    return {"id": event.id, **hashed_fields(event), "prev_hash": event.prev_hash, "hash": event.hash}


class _Echo:
    """A file-like object whose `write` hands back the line, for `csv.writer` in a generator."""

    def write(self, value):
        return value


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _redacted(events: Iterable[AuditEvent]) -> Iterator[AuditEvent]:
    for event in events:
        event.source_ip = None
        yield event


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for event in events:
        row = event_export_dict(event)
        row["changes"] = canonical_json(row["changes"])
        yield writer.writerow([_csv_cell(row[column]) for column in CSV_COLUMNS])


def jsonl_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    for event in events:
        yield json.dumps(event_export_dict(event), ensure_ascii=False) + "\n"


def audit_export(*, actor, queryset, fmt: str, filters: dict, via: str) -> StreamingHttpResponse:
    """Record who exported what, then stream the events of `queryset` oldest first.

    Allowed to holders of the `audit.export_auditevent` permission, which the auditor, risk
    officer and admin groups get (see `core.role_permissions`); superusers hold every permission.
    Only the events `events_visible_to(actor)` are exported, whatever `queryset` holds, and
    source IP addresses are blanked for those who may not see them (so only an auditor's or an
    administrator's export re-verifies line by line). `filters` is what the exporter asked for,
    kept on the `audit.export` event.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    if not (actor and actor.has_perm(EXPORT_PERMISSION)):
        raise PermissionDenied("Only auditors, risk officers and administrators may export the audit trail.")
    event = audit_record(
        action="audit.export",
        actor=actor,
        object_type="audit.auditevent",
        changes={"format": fmt, "filters": filters, "via": via},
    )
    if event.seq is None:  # the chain was busy: take our place now (we hold no other lock)
        audit_seal()
        event.refresh_from_db(fields=["seq"])
    # The export's own event (and anything after it) stays out: the file is the trail as it was.
    events = (queryset & events_visible_to(actor)).filter(seq__lt=event.seq).order_by("seq").iterator(chunk_size=CHUNK_SIZE)
    if not audit_sees_sensitive(actor):
        events = _redacted(events)
    lines = csv_lines(events) if fmt == "csv" else jsonl_lines(events)
    response = StreamingHttpResponse(lines, content_type=FORMATS[fmt])
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-events-{stamp}.{fmt}"'
    return response


def exported_lines_verify(lines: Iterable[str], *, complete: bool = True, checkpoint: dict | None = None) -> list[str]:
    """Re-check a JSON lines export without the database; returns the problems found (none = ok).

    Each line must match its own hash and `seq` must rise line by line. A `complete` (unfiltered)
    export is the whole chain: it starts at #1 from the genesis hash and each line follows the
    previous one (`seq` + 1, `prev_hash` = its hash), so a removed line is reported; in a filtered
    export a gap is a filtered-out stretch, and only consecutive numbers must link. `checkpoint`
    (`{"seq", "hash", ...}`, written before the export) must name a line with the same hash.
    """
    problems, previous, by_seq = [], None, {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        event = json.loads(line)
        content = {k: v for k, v in event.items() if k not in ("id", "prev_hash", "hash")}
        if hash_of(event["prev_hash"], content) != event["hash"]:
            problems.append(f"line {number} (#{event['seq']}): content does not match its hash")
        expected = (previous["seq"] + 1) if previous else 1
        if previous and event["seq"] <= previous["seq"]:
            problems.append(f"line {number} (#{event['seq']}): out of order after #{previous['seq']}")
        elif complete and event["seq"] != expected:
            problems.append(f"line {number} (#{event['seq']}): expected #{expected}, events are missing")
        elif (complete or (previous and previous["seq"] + 1 == event["seq"])) and event["prev_hash"] != (
            previous["hash"] if previous else GENESIS_HASH
        ):
            after = f"#{previous['seq']}" if previous else "the genesis hash"
            problems.append(f"line {number} (#{event['seq']}): prev_hash does not match {after}")
        by_seq[event["seq"]] = event["hash"]
        previous = event
    if checkpoint is not None:
        if checkpoint["seq"] not in by_seq:
            last = previous["seq"] if previous else 0
            problems.append(f"the checkpoint names event #{checkpoint['seq']}, the export ends at #{last}")
        elif by_seq[checkpoint["seq"]] != checkpoint["hash"]:
            problems.append(f"event #{checkpoint['seq']} does not match the checkpoint's hash (re-hashed chain)")
    return problems
