"""The one audit writer and the sealer (the verifier is `audit.verify`).

Every app's services call `audit_record` inside the same transaction as the change they make,
so a change and its audit event commit or roll back together.

Lock order (see docs/architecture.md, "Lock order"): the chain lock is never *waited for* by a
transaction that may hold row locks. `audit_record` only tries it (`pg_try_advisory_xact_lock`):

- free → the event gets its place in the chain at once (`seq`, `prev_hash`, `hash`), after any
  committed events still waiting for theirs, and the lock is held to the end of the transaction;
- taken → the event is written without a place ("unsealed") and `audit_seal` gives it one right
  after the transaction commits, in a transaction of its own that holds no other lock.
  Beat runs `audit_seal` too (`audit.tasks`), for an event whose process died before that.

So a transaction holding the chain lock may wait for rows, but no transaction holding rows ever
waits for the chain lock: there is no cycle, hence no deadlock, whatever order services lock
their rows in. On SQLite, writers are serialised by the database itself (IMMEDIATE
transactions), so the chain is always free.
"""

import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from .context import current_request_id, current_source_ip
from .models import AuditEvent

GENESIS_HASH = "0" * 64
# Arbitrary constant naming the PostgreSQL advisory lock that serialises chain appends.
_CHAIN_LOCK_KEY = 0x5354455741524400


def _json_float(text: str) -> float | int:
    """A JSON number with a fraction or exponent, as PostgreSQL's jsonb will give it back, so the
    verifier's re-encoding of what the database returns matches the hash: jsonb has no negative
    zero (`-0.0` reads back `0.0`), and prints `1e+16` as the integer `10000000000000000`."""
    value = float(text) + 0.0
    return int(value) if "e+" in text.lower() and value.is_integer() else value


def to_jsonable(value):
    """Round-trip through Django's encoder so dates, decimals and UUIDs become plain JSON."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder), parse_float=_json_float)


def hashed_fields(event: AuditEvent) -> dict:
    """The content an event's hash covers (everything but `id`, `prev_hash` and `hash`)."""
    return {
        "seq": event.seq,
        "timestamp": event.timestamp.isoformat(),
        "actor_id": event.actor_id,
        "actor_username": event.actor_username,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "changes": event.changes,
        "request_id": event.request_id,
        "source_ip": event.source_ip,
    }


def canonical_json(content: dict) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_content(event: AuditEvent) -> str:
    return canonical_json(hashed_fields(event))


def hash_of(prev_hash: str, content: dict) -> str:
    """`sha256(prev_hash + canonical JSON of content)` — also how an exported line is re-checked."""
    return hashlib.sha256((prev_hash + canonical_json(content)).encode()).hexdigest()


def compute_hash(prev_hash: str, event: AuditEvent) -> str:
    return hash_of(prev_hash, hashed_fields(event))


def object_label(obj) -> tuple[str, str, str]:
    meta = obj._meta
    return f"{meta.app_label}.{meta.model_name}", str(obj.pk), str(obj)[:300]


def diff(before: dict, after: dict) -> dict:
    """`{field: {"before": x, "after": y}}` for the fields whose value changed."""
    before, after = to_jsonable(before), to_jsonable(after)
    keys = sorted(set(before) | set(after))
    return {
        k: {"before": before.get(k), "after": after.get(k)}
        for k in keys
        if before.get(k) != after.get(k)
    }


def snapshot(obj, fields) -> dict:
    return to_jsonable({f: getattr(obj, f) for f in fields})


def _chain_lock(*, wait: bool) -> bool:
    """Take the chain's lock for the rest of the transaction; without `wait`, only if it is free."""
    if connection.vendor != "postgresql":
        return True  # SQLite: the transaction already holds the database's write lock
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        return cursor.fetchone()[0]


def _sealed_head() -> tuple[int, str]:
    last = AuditEvent.objects.filter(seq__isnull=False).order_by("-seq").values_list("seq", "hash").first()
    return last or (0, GENESIS_HASH)


def _place(event: AuditEvent, head: tuple[int, str]) -> tuple[int, str]:
    event.seq = head[0] + 1
    event.prev_hash = head[1]
    event.hash = compute_hash(event.prev_hash, event)
    return event.seq, event.hash


_SEAL_BATCH = 500


def _seal_waiting(head: tuple[int, str]) -> tuple[tuple[int, str], int]:
    """Give the visible unsealed events their places, oldest id first. Needs the chain lock."""
    sealed = 0
    while batch := list(AuditEvent.objects.filter(seq__isnull=True).order_by("id")[:_SEAL_BATCH]):
        for event in batch:
            head = _place(event, head)
        AuditEvent.objects.bulk_update(batch, ["seq", "prev_hash", "hash"])
        sealed += len(batch)
    return head, sealed


@transaction.atomic
def audit_record(
    *,
    action: str,
    actor=None,
    obj=None,
    changes: dict | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
) -> AuditEvent:
    """Append one event to the trail. Call inside the transaction of the change it records.

    Returns the event; its `seq` is `None` while it waits to be sealed (the chain was busy).
    """
    if obj is not None:
        object_type, object_id, object_repr = object_label(obj)
    actor = actor if getattr(actor, "is_authenticated", False) else None
    event = AuditEvent(
        timestamp=timezone.now(),
        actor=actor,
        actor_username=actor.get_username() if actor else "",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_repr=object_repr[:300],
        changes=to_jsonable(changes or {}),
        request_id=current_request_id(),
        source_ip=current_source_ip(),
    )
    if _chain_lock(wait=False):
        # One query answers both "is anything waiting?" (a NULL seq sorts first) and "the head".
        top = AuditEvent.objects.order_by(F("seq").desc(nulls_first=True)).values_list("seq", "hash").first()
        head = top or (0, GENESIS_HASH)
        if top and top[0] is None:
            head, _ = _seal_waiting(_sealed_head())
        _place(event, head)
        event.save(force_insert=True)
    else:
        event.save(force_insert=True)
        transaction.on_commit(audit_seal, robust=True)
    return event


def audit_seal() -> int:
    """Seal every committed event still waiting for its place in the chain; returns how many.

    Runs in a transaction of its own (never inside another: it waits for the chain lock, and a
    caller holding row locks must not wait for it).
    """
    waiting = AuditEvent.objects.filter(seq__isnull=True)
    if not waiting.exists():  # another writer or sealer placed them already: do not queue for the lock
        return 0
    with transaction.atomic(durable=True):
        _chain_lock(wait=True)
        if not waiting.exists():
            return 0
        _, sealed = _seal_waiting(_sealed_head())
        return sealed


def audit_unsealed_count() -> int:
    return AuditEvent.objects.filter(seq__isnull=True).count()
