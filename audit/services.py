"""The one audit writer, and the chain verifier.

Every app's services call `audit_record` inside the same transaction as the change they make,
so a change and its audit event commit or roll back together.
"""

import hashlib
import json
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from .context import current_request_id, current_source_ip
from .models import AuditEvent

GENESIS_HASH = "0" * 64
# Arbitrary constant naming the PostgreSQL advisory lock that serialises chain appends.
_CHAIN_LOCK_KEY = 0x5354455741524400


def to_jsonable(value):
    """Round-trip through Django's encoder so dates, decimals and UUIDs become plain JSON."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


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
    """Append one event to the chain. Call inside the transaction of the change it records."""
    if obj is not None:
        object_type, object_id, object_repr = object_label(obj)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: checked at COMMIT, i.e.
            # while we would hold the chain lock. A check that waits on a row another transaction
            # holds (which itself waits for the chain lock) would deadlock. Check them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    last = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
    actor = actor if getattr(actor, "is_authenticated", False) else None
    event = AuditEvent(
        seq=(last["seq"] + 1) if last else 1,
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
        prev_hash=last["hash"] if last else GENESIS_HASH,
    )
    event.hash = compute_hash(event.prev_hash, event)
    event.save(force_insert=True)
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_broken_seq: int | None = None
    first_broken_id: int | None = None
    reason: str = ""

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_broken": None
            if self.ok
            else {"seq": self.first_broken_seq, "id": self.first_broken_id, "reason": self.reason},
        }


def audit_chain_verify() -> ChainReport:
    """Walk the chain in `seq` order; report the first event that does not fit."""
    prev_hash, expected_seq, checked = GENESIS_HASH, 1, 0
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        problem = ""
        if event.seq != expected_seq:
            problem = f"sequence gap: expected #{expected_seq}, found #{event.seq} (deleted event?)"
        elif event.prev_hash != prev_hash:
            problem = "prev_hash does not match the preceding event (reordered or deleted?)"
        elif compute_hash(event.prev_hash, event) != event.hash:
            problem = "content does not match its hash (edited?)"
        if problem:
            return ChainReport(False, checked, event.seq, event.id, problem)
        prev_hash, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
    return ChainReport(True, checked)
