"""Event ingest: a CSV or NDJSON body validated whole (pyarrow, column by column), then stored
with one `COPY` (PostgreSQL) or large `executemany` batches (SQLite), in one transaction.

How the rows are read and judged is `eventcolumns` (by column) and `eventrows` (row by row,
the reference); how they are written is `core.bulk`.
"""

import hashlib
import tempfile

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from core import bulk
from core.errors import Conflict, InvalidInput, ServiceError

from . import eventcolumns, eventrows
from .access import can_run, require
from .models import Event, EventBatch, Experiment


def _format(content_type: str) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    if media in ("text/csv", "application/csv"):
        return "csv"
    if media in ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"):
        return "ndjson"
    raise InvalidInput(
        "Send CSV (text/csv) or NDJSON (application/x-ndjson).", fields={"content_type": [f"Unsupported: {media or 'none'}"]}
    )


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
    events are deduplicated by `event_id` (rows without one get `<batch sha256[:16]>:<row>`): the
    first of an id in the file is stored, one already stored is skipped (`stored` < `rows`).
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
        try:
            table = eventcolumns.read_table(spool, fmt, experiment, arms, now, sha)
        except eventcolumns.Undecided:
            table = eventrows.read_rows(spool, fmt, experiment, arms, now, sha)
    rows = table.num_rows
    table = eventrows.first_of_each_event(table)
    try:
        with transaction.atomic():
            batch = EventBatch.objects.create(
                experiment=experiment, sha256=sha, content_type=fmt, rows=rows, uploaded_by=actor
            )
            table = table.append_column("batch_id", _constant(batch.pk, table.num_rows))
            batch.stored = bulk.insert_rows(Event._meta.db_table, table, conflict=("experiment_id", "event_id"))
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


def _constant(value: int, n: int):
    import pyarrow as pa

    return pa.repeat(pa.scalar(value, pa.int64()), n)
