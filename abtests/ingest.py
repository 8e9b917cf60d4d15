"""Event ingest: CSV or NDJSON bodies validated row by row, then stored in one transaction."""

import csv
import hashlib
import io
import json
import math
import tempfile
from datetime import UTC

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.services import audit_record
from core.errors import Conflict, InvalidInput, ServiceError

from .access import can_run, require
from .models import Arm, Event, EventBatch, Experiment

INGEST_CHUNK = 5000
MAX_REPORTED_ROW_ERRORS = 50


class _RowError(Exception):
    pass


def _format(content_type: str) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    if media in ("text/csv", "application/csv"):
        return "csv"
    if media in ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"):
        return "ndjson"
    raise InvalidInput(
        "Send CSV (text/csv) or NDJSON (application/x-ndjson).", fields={"content_type": [f"Unsupported: {media or 'none'}"]}
    )


def _records(fh, fmt: str, columns: set[str], required: set[str]):
    """Yield (row number, dict) from the body, streaming. CSV row 1 is the first line after the
    header; NDJSON row n is line n (blank lines are skipped but counted)."""
    fh.seek(0)
    # utf-8-sig: UTF-8, with or without the byte-order mark Excel writes at the start.
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="" if fmt == "csv" else None)
    try:
        if fmt == "csv":
            reader = csv.DictReader(text)
            header = set(reader.fieldnames or [])
            if missing := required - header:
                raise InvalidInput("The CSV header lacks required columns.", fields={"header": [f"missing: {', '.join(sorted(missing))}"]})
            if extra := header - columns:
                raise InvalidInput("The CSV header has unknown columns.", fields={"header": [f"unknown: {', '.join(sorted(extra))}"]})
            for number, row in enumerate(reader, start=1):
                if None in row:
                    yield number, _RowError("more fields than header columns")
                    continue
                yield number, {k: v for k, v in row.items() if v is not None}
        else:
            for number, line in enumerate(text, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    yield number, _RowError("not valid JSON")
                    continue
                if not isinstance(record, dict):
                    yield number, _RowError("not a JSON object")
                    continue
                yield number, record
    except UnicodeDecodeError as exc:
        raise InvalidInput("The body is not UTF-8 (with or without a byte-order mark).", fields={"body": [str(exc)]}) from exc
    finally:
        text.detach()


def _number(raw, name: str, binary: bool):
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raw = int(raw)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise _RowError(f"{name}: not a number ({str(raw)[:40]!r})") from None
    if not math.isfinite(value):
        raise _RowError(f"{name}: must be finite")
    if binary and value not in (0.0, 1.0):
        raise _RowError(f"{name}: must be 0 or 1 for a binary metric (got {str(raw)[:40]!r})")
    return value


def _text(raw, name: str, *, required: bool) -> str:
    value = "" if raw is None else str(raw).strip()
    if required and not value:
        raise _RowError(f"{name}: required")
    if len(value) > 200:
        raise _RowError(f"{name}: longer than 200 characters")
    return value


def _row_parser(exp: Experiment, arms: dict[str, Arm], now):
    binary = exp.metric_type == Experiment.MetricType.BINARY
    secondary = {m["name"]: m["type"] == Experiment.MetricType.BINARY for m in exp.secondary_metrics or []}
    if exp.kind == Experiment.Kind.SHADOW:
        required = {"request_id", "champion_value", "challenger_value"}
    else:
        required = {"unit_id", "arm", "value"}
    columns = required | {"event_id", "timestamp"} | set(secondary)

    def parse(record: dict) -> dict:
        if extra := set(record) - columns:
            raise _RowError(f"unknown field(s): {', '.join(sorted(map(str, extra)))[:200]}")
        stamp = record.get("timestamp")
        if stamp in (None, ""):
            when = now
        else:
            when = parse_datetime(str(stamp)) if isinstance(stamp, str) else None
            if when is None:
                raise _RowError(f"timestamp: not an ISO 8601 date-time ({str(stamp)[:40]!r})")
            if timezone.is_naive(when):
                when = when.replace(tzinfo=UTC)
        out = {"event_id": _text(record.get("event_id"), "event_id", required=False), "timestamp": when}
        if exp.kind == Experiment.Kind.SHADOW:
            for key in ("request_id", "champion_value", "challenger_value"):
                if key not in record:
                    raise _RowError(f"{key}: required")
            out["unit_id"] = _text(record.get("request_id"), "request_id", required=True)
            out["champion_value"] = _number(record.get("champion_value"), "champion_value", binary)
            out["challenger_value"] = _number(record.get("challenger_value"), "challenger_value", binary)
            return out
        out["unit_id"] = _text(record.get("unit_id"), "unit_id", required=True)
        arm_name = _text(record.get("arm"), "arm", required=True)
        if arm_name not in arms:
            raise _RowError(f"arm: unknown arm {arm_name[:50]!r} (expected {', '.join(arms)})")
        out["arm"] = arms[arm_name]
        if "value" not in record:
            raise _RowError("value: required (leave it empty if the outcome is missing)")
        out["value"] = _number(record.get("value"), "value", binary)
        metrics = {}
        for name, is_binary in secondary.items():
            value = _number(record.get(name), name, is_binary)
            if value is not None:
                metrics[name] = value
        out["metrics"] = metrics or None
        return out

    return parse, columns, required


class TooLarge(ServiceError):
    status_code = 413
    code = "payload_too_large"


def events_max_bytes() -> int:
    """The largest event upload accepted (settings.EVENTS_MAX_BYTES, env `EVENTS_MAX_BYTES`)."""
    return int(getattr(settings, "EVENTS_MAX_BYTES", 256 * 1024 * 1024))


def _too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"The upload is larger than the limit of {limit:,} bytes; split it into several batches.",
        fields={"body": [f"At most {limit:,} bytes per upload."]},
    )


def _spool(body, limit: int) -> tuple[tempfile.SpooledTemporaryFile, str, int]:
    """Copy the request body to a spooled file (memory up to 8 MB, then disk), hashing it; stop
    with 413 as soon as it passes `limit` bytes."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    digest, size = hashlib.sha256(), 0
    while chunk := body.read(1024 * 1024):
        size += len(chunk)
        if size > limit:
            spool.close()
            raise _too_large(limit)
        digest.update(chunk)
        spool.write(chunk)
    spool.seek(0)
    return spool, digest.hexdigest(), size


def events_ingest(
    *, actor, experiment: Experiment, body, content_type: str, content_length: int | None = None
) -> tuple[EventBatch, bool]:
    """Store one uploaded batch of events; returns (batch, created).

    Every row is validated before anything is stored: one bad row rejects the batch (400 with row
    numbers and reasons). The same body uploaded again returns the stored batch and adds nothing;
    events are deduplicated by `event_id` (rows without one get `<batch sha256[:16]>:<row>`).
    """
    require(can_run(actor, experiment), "You may not upload events to this experiment.")
    fmt = _format(content_type)
    if experiment.status != Experiment.Status.RUNNING:
        raise Conflict("Events are accepted only while the experiment runs.", fields={"status": [experiment.status]})
    limit = events_max_bytes()
    if content_length is not None and content_length > limit:
        raise _too_large(limit)
    spool, sha, size = _spool(body, limit)
    with spool:
        existing = EventBatch.objects.filter(experiment=experiment, sha256=sha).first()
        if existing:
            return existing, False
        if size == 0:
            raise InvalidInput("The body is empty.", fields={"body": ["No rows."]})
        arms = {a.name: a for a in experiment.arms.all()}
        now = timezone.now()
        parse, columns, required = _row_parser(experiment, arms, now)

        # Pass 1: validate everything, store nothing.
        errors, rows = [], 0
        for number, record in _records(spool, fmt, columns, required):
            rows += 1
            try:
                if isinstance(record, _RowError):
                    raise record
                parse(record)
            except _RowError as exc:
                errors.append(f"row {number}: {exc}")
                if len(errors) >= MAX_REPORTED_ROW_ERRORS:
                    break
        if errors:
            raise InvalidInput(
                f"The batch was rejected; nothing of it was stored ({len(errors)} bad row(s) reported).",
                fields={"rows": errors},
            )
        if rows == 0:
            raise InvalidInput("The body has no rows.", fields={"body": ["No rows."]})

        # Pass 2: insert in chunks, in one transaction.
        try:
            with transaction.atomic():
                batch = EventBatch.objects.create(
                    experiment=experiment, sha256=sha, content_type=fmt, rows=rows, uploaded_by=actor
                )
                chunk = []
                for number, record in _records(spool, fmt, columns, required):
                    data = parse(record)
                    data["event_id"] = data["event_id"] or f"{sha[:16]}:{number}"
                    chunk.append(Event(experiment=experiment, batch=batch, **data))
                    if len(chunk) >= INGEST_CHUNK:
                        Event.objects.bulk_create(chunk, ignore_conflicts=True)
                        chunk = []
                if chunk:
                    Event.objects.bulk_create(chunk, ignore_conflicts=True)
                batch.stored = Event.objects.filter(batch=batch).count()
                batch.save(update_fields=["stored"])
                audit_record(
                    action="experiment.events_ingest", actor=actor, obj=experiment,
                    changes={"batch": {"before": None, "after": {"id": batch.pk, "sha256": sha, "rows": rows, "stored": batch.stored}}},
                )
        except IntegrityError:
            # The same body uploaded concurrently: the other upload stored it.
            existing = EventBatch.objects.filter(experiment=experiment, sha256=sha).first()
            if existing is None:
                raise
            return existing, False
    return batch, True
