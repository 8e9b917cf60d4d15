"""The chain verifier: reads the trail in `seq` order and recomputes every hash, holding the chain
to the signed checkpoints (`audit.checkpoints`), so an edited, deleted, re-hashed or truncated
event is reported with where it is.

On PostgreSQL the rows stream from one `COPY (SELECT …) TO STDOUT`, so the database formats the
next rows on one core while Python hashes bytes on the other; on SQLite raw rows are read with
the timestamp as text. Both yield the bytes the writer hashed (`audit.services.canonical_json`);
tests/audit/test_chain.py holds them to each other. Speed and method: benchmarks/README.md.
"""

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from json.encoder import c_make_encoder, encode_basestring

from django.db import connection
from django.utils.dateparse import parse_datetime

from .services import GENESIS_HASH, audit_seal, audit_unsealed_count

# The hashed fields in canonical (sorted) order.
_HASHED = sorted(["seq", "timestamp", "actor_id", "actor_username", "action", "object_type", "object_id",
                  "object_repr", "changes", "request_id", "source_ip"])
_encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
if c_make_encoder is not None:
    # The C encoder `json.dumps` builds on every call, built once (no circular-reference
    # markers: `changes` comes from JSON). Same output; the verifier calls it a million times.
    _c_encode = c_make_encoder(None, _encoder.default, encode_basestring, None, ":", ",", True, False, True)

    def _encode_changes(value) -> str:
        return "".join(_c_encode(value, 0))
else:  # pragma: no cover - CPython always has the C encoder
    _encode_changes = _encoder.encode


def _row_canonical(action, actor_id, actor_username, changes, object_id, object_repr, object_type,
                   request_id, seq, source_ip, timestamp) -> str:
    """`canonical_json(hashed_fields(event))` for a database row, without building the dict.

    Same escaping as `json.dumps(..., ensure_ascii=False)` (`encode_basestring` is what it uses);
    `tests/audit/test_chain.py` checks the two agree on awkward content.
    """
    return "".join((
        '{"action":', encode_basestring(action),
        ',"actor_id":', "null" if actor_id is None else str(actor_id),
        ',"actor_username":', encode_basestring(actor_username),
        ',"changes":', "{}" if not changes and isinstance(changes, dict) else _encode_changes(changes),
        ',"object_id":', encode_basestring(object_id),
        ',"object_repr":', encode_basestring(object_repr),
        ',"object_type":', encode_basestring(object_type),
        ',"request_id":', encode_basestring(request_id),
        ',"seq":', str(seq),
        ',"source_ip":', "null" if source_ip is None else encode_basestring(source_ip),
        ',"timestamp":', encode_basestring(timestamp),
        "}",
    ))


# PostgreSQL builds the canonical JSON around `changes` itself, on the database's core while
# Python hashes: `to_json(text)` escapes exactly as `encode_basestring` does (`"`, `\\`, \b \f \n
# \r \t, other control characters as \u00XX, nothing else), the timestamp is formatted as
# Python's `isoformat()` of a UTC instant (what `audit_record` hashed) but for a zero fraction,
# which `_pg_chain_rows` drops, and the address without a netmask. Only `changes` (sorted keys,
# Python's number format) is re-encoded in Python. `test_rows_as_the_verifier_reads_them_hash_as_written`
# holds the two to each other.
#
# The rows come out with `COPY … TO STDOUT`, which streams: the database formats the next rows
# while Python hashes the last ones (a server-side cursor answers each FETCH only when asked, so
# the two took turns). Text format; the last column ends with the row's newline, `int` ignores it.
_PG_COPY = """
COPY (SELECT seq, prev_hash, hash,
       '{"action":' || to_json(action)::text
       || ',"actor_id":' || coalesce(actor_id::text, 'null')
       || ',"actor_username":' || to_json(actor_username)::text || ',"changes":',
       changes::text,
       ',"object_id":' || to_json(object_id)::text
       || ',"object_repr":' || to_json(object_repr)::text
       || ',"object_type":' || to_json(object_type)::text
       || ',"request_id":' || to_json(request_id)::text
       || ',"seq":' || seq::text
       || ',"source_ip":' || coalesce(to_json(host(source_ip))::text, 'null')
       || ',"timestamp":"' || to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00"}',
       id
FROM audit_auditevent WHERE seq IS NOT NULL ORDER BY seq) TO STDOUT
"""
_WHOLE_SECOND = b'.000000+00:00"}'  # `isoformat()` writes no fraction when it is zero
# The C scanner behind `json.loads`, without its per-call checks (it clears its key memo itself).
_scan_json = json.JSONDecoder().scan_once


def _pg_chain_rows() -> Iterator[tuple[bytes, int, bytes, bytes, bytes]]:
    scan, encode, whole_second = _scan_json, _c_encode, _WHOLE_SECOND
    with connection.cursor() as cursor, cursor.cursor.copy(_PG_COPY) as copy:
        try:
            for data in copy:
                # COPY's text format doubles each backslash (all our columns' other characters
                # are printable or already escaped by `to_json`); a NULL would read `\N` and fail.
                seq, prev, digest, head, changes, tail, event_id = bytes(data).replace(b"\\\\", b"\\").split(b"\t")
                if changes != b"{}":
                    text = changes.decode()
                    value, end = scan(text, 0)
                    if end != len(text):  # jsonb prints one value; anything after it is not ours
                        raise ValueError(f"event #{int(seq)}: unexpected text after its changes")
                    changes = "".join(encode(value, 0)).encode()
                if tail.endswith(whole_second):
                    tail = tail[: -len(whole_second)] + b'+00:00"}'
                yield event_id, int(seq), prev, digest, b"".join((head, changes, tail))
        except GeneratorExit:
            # The walk stopped early (a broken event, a closed stream). Read the rest rather than
            # cancel: a cancel can land after the COPY and abort the caller's transaction.
            while copy.read():
                pass
            raise


# SQLite: Python builds the canonical JSON (the database runs in this process anyway). The
# timestamp is read as text: a bare column would go through Django's datetime converter.
_SQLITE_ROWS = (f"SELECT id, prev_hash, hash, {', '.join(_HASHED[:-1])}, CAST(timestamp AS TEXT) "
                "FROM audit_auditevent WHERE seq IS NOT NULL ORDER BY seq")


def _sqlite_timestamp(text: str) -> str:
    """`isoformat()` of the instant the ORM reads from SQLite's text: Django writes naive UTC,
    `str(datetime)` (`YYYY-MM-DD HH:MM:SS[.ffffff]`), which the first line turns around as is."""
    if len(text) in (19, 26) and text[10] == " ":
        return text.replace(" ", "T") + "+00:00"
    value = parse_datetime(text)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _sqlite_chain_rows() -> Iterator[tuple[int, int, bytes, bytes, bytes]]:
    scan, canonical, timestamp = _scan_json, _row_canonical, _sqlite_timestamp
    with connection.cursor() as cursor:
        cursor.execute(_SQLITE_ROWS)
        while chunk := cursor.fetchmany(_FETCH):
            for (event_id, prev, digest, action, actor_id, actor_username, changes, object_id, object_repr,
                 object_type, request_id, seq, source_ip, stamp) in chunk:
                value, end = scan(changes, 0)  # Django stores JSON as text here
                if end != len(changes):
                    raise ValueError(f"event #{seq}: unexpected text after its changes")
                content = canonical(action, actor_id, actor_username, value, object_id, object_repr, object_type,
                                    request_id, seq, source_ip, timestamp(stamp))
                yield event_id, seq, (prev or "").encode(), (digest or "").encode(), content.encode()


def _chain_rows() -> Iterator[tuple[int | bytes, int, bytes, bytes, bytes]]:
    """The sealed events in `seq` order as `(id, seq, prev_hash, hash, canonical content)`,
    the last three as the UTF-8 bytes the hash covers (`int(id)` gives the id)."""
    return _pg_chain_rows() if connection.vendor == "postgresql" else _sqlite_chain_rows()


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_broken_seq: int | None = None
    first_broken_id: int | None = None
    reason: str = ""
    checkpoint: dict | None = None  # the latest valid signed checkpoint the chain was held to
    unsealed: int = 0  # events committed after verification began, not yet in the chain
    checkpoint_problems: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_broken": None
            if self.ok
            else {"seq": self.first_broken_seq, "id": self.first_broken_id, "reason": self.reason},
            "checkpoint": self.checkpoint,
            "unsealed": self.unsealed,
        }


PROGRESS_EVERY = 100_000
_FETCH = 10_000


def chain_verify_steps(*, checkpoints: list[dict] | None = None, seal: bool = True) -> Iterator:
    """Walk the chain in `seq` order; yields the number of events checked every `PROGRESS_EVERY`
    events and, last, a `ChainReport` naming the first event that does not fit.

    Each event must follow the previous one (`seq` + 1, `prev_hash` = its hash) and match its own
    hash; each signed checkpoint (`audit.checkpoints`, read before the walk) must name an event of
    the chain with the same hash, so a deleted tail, a truncated table or a chain re-hashed from
    an edit on is reported. A checkpoint line whose signature does not match is reported too.
    Reads the rows with one statement (one consistent snapshot), streamed: memory stays flat.
    """
    from .checkpoints import checkpoints_read

    if checkpoints is None:
        checkpoints = checkpoints_read()
    forged = [c for c in checkpoints if not c["valid"]]
    trusted: dict[int, list[dict]] = {}
    for c in checkpoints:
        if c["valid"]:
            trusted.setdefault(c["seq"], []).append(c)
    latest = max((c for c in checkpoints if c["valid"]), key=lambda c: c["seq"], default=None)
    latest_public = {k: latest[k] for k in ("seq", "hash", "time")} if latest else None
    if seal and not connection.in_atomic_block:
        audit_seal()  # events committed before now take their places, so the walk covers them

    def report(ok, checked, seq=None, id_=None, reason=""):
        return ChainReport(ok, checked, seq, id_, reason, latest_public, audit_unsealed_count())

    if forged:
        c = forged[0]
        yield report(False, 0, c.get("seq"), None,
                     f"checkpoint line {c['line']} does not carry a valid signature (forged or edited checkpoint)")
        return

    prev_hash, expected, checked, broken = GENESIS_HASH.encode(), 1, 0, None
    rows = _chain_rows()
    sha256 = hashlib.sha256
    with contextlib.closing(rows):  # stops the read if the walk stops early
        for event_id, seq, stored_prev, stored_hash, content in rows:
            problem = ""
            if seq != expected:
                problem = f"sequence gap: expected #{expected}, found #{seq} (deleted event?)"
            elif stored_prev != prev_hash:
                problem = "prev_hash does not match the preceding event (reordered or deleted?)"
            elif sha256(stored_prev + content).hexdigest().encode() != stored_hash:
                problem = "content does not match its hash (edited?)"
            elif seq in trusted and any(c["hash"].encode() != stored_hash for c in trusted[seq]):
                cp = next(c for c in trusted[seq] if c["hash"].encode() != stored_hash)
                problem = (f"does not match the signed checkpoint of {cp['time']} (hash {cp['hash'][:12]}…): "
                           "the chain was re-hashed from here or earlier")
            if problem:
                broken = (seq, int(event_id), problem)
                break
            prev_hash, expected, checked = stored_hash, expected + 1, checked + 1
            if checked % PROGRESS_EVERY == 0:
                yield checked
    if broken:
        yield report(False, checked, *broken)
        return
    if latest and latest["seq"] > checked:
        yield report(False, checked, latest["seq"], None,
                     f"the signed checkpoint of {latest['time']} names event #{latest['seq']}, but the trail ends "
                     f"at #{checked}: events were deleted from the end (or the table truncated)")
        return
    yield report(True, checked)


def audit_chain_verify(*, checkpoints: list[dict] | None = None, progress: Callable[[int], None] | None = None) -> ChainReport:
    """Verify the whole chain (see `chain_verify_steps`); `progress(checked)` is called on the way."""
    for step in chain_verify_steps(checkpoints=checkpoints):
        if isinstance(step, ChainReport):
            return step
        if progress:
            progress(step)
    raise AssertionError("chain_verify_steps ends with a report")
