import contextlib
from datetime import UTC, datetime
from unittest import mock

import pytest


@pytest.fixture
def frozen():
    """`with frozen(when):` — events written inside get `when` as their timestamp."""

    @contextlib.contextmanager
    def freeze(when: datetime):
        with mock.patch("audit.services.timezone.now", return_value=when):
            yield

    return freeze


@pytest.fixture
def jan():
    """`jan(day, hour)` → an aware UTC instant in January 2026."""
    return lambda day, hour=12, minute=0: datetime(2026, 1, day, hour, minute, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _postgres_only(request):
    """Tests marked `postgres` need PostgreSQL (triggers, roles, advisory locks); skip elsewhere."""
    if request.node.get_closest_marker("postgres"):
        from django.db import connection

        if connection.vendor != "postgresql":
            pytest.skip("PostgreSQL only")


@pytest.fixture(autouse=True)
def checkpoint_file(settings, tmp_path):
    """Each test writes its checkpoints (and key) to a file of its own."""
    settings.STEWARD_AUDIT_CHECKPOINT_FILE = str(tmp_path / "checkpoints.jsonl")
    settings.STEWARD_AUDIT_CHECKPOINT_KEY = ""
    settings.STEWARD_AUDIT_CHECKPOINT_KEY_FILE = str(tmp_path / "checkpoint.key")
    return tmp_path / "checkpoints.jsonl"


@pytest.fixture
def tamper():
    """`tamper(sql, params)`: rewrite the audit table as its owner could, past the triggers
    (PostgreSQL: disabled for the statement; SQLite has none)."""
    from django.db import connection

    def run(sql, params=()):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
            cursor.execute(sql, params)
            if connection.vendor == "postgresql":
                cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")

    return run


def rehash_from(seq: int) -> None:
    """Re-hash the chain from `seq` on with the documented recipe, as a forger with write access
    to the table would after editing an event: every event then matches its hash and links."""
    import hashlib
    import json

    from django.db import connection

    from audit.models import AuditEvent

    rows = list(AuditEvent.objects.filter(seq__gte=seq).order_by("seq"))
    prev = AuditEvent.objects.get(seq=seq - 1).hash if seq > 1 else "0" * 64
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        # Unique hashes: park the old ones first.
        cursor.execute("UPDATE audit_auditevent SET hash = 'x' || id WHERE seq >= %s", [seq])
        for e in rows:
            content = {
                "seq": e.seq, "timestamp": e.timestamp.isoformat(), "actor_id": e.actor_id,
                "actor_username": e.actor_username, "action": e.action, "object_type": e.object_type,
                "object_id": e.object_id, "object_repr": e.object_repr, "changes": e.changes,
                "request_id": e.request_id, "source_ip": e.source_ip,
            }
            canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            new_hash = hashlib.sha256((prev + canonical).encode()).hexdigest()
            cursor.execute("UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s", [prev, new_hash, e.id])
            prev = new_hash
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
