"""Signed checkpoints of the chain's head, kept outside the database.

A checkpoint is one JSON line `{"seq", "hash", "time", "signature"}` appended to the file
`STEWARD_AUDIT_CHECKPOINT_FILE`, where `signature` is the HMAC-SHA256, keyed with
`STEWARD_AUDIT_CHECKPOINT_KEY` (or the key file `STEWARD_AUDIT_CHECKPOINT_KEY_FILE`, created on
first use), of the canonical JSON of the other three fields. Neither the key nor the file is in
the database, so whoever can rewrite the audit table (delete its newest events, truncate it, or
re-hash the chain after an edit) cannot make it agree with the checkpoints written before:
verification (`audit.verify.chain_verify_steps`) holds the chain to every valid checkpoint.

Beat writes one every `STEWARD_AUDIT_CHECKPOINT_INTERVAL` seconds (`audit.tasks`), and
`manage.py audit_checkpoint` writes one on demand. Ship the file to storage the database's
administrators cannot rewrite (see docs/operations.md, "Audit checkpoints").
"""

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from .models import AuditEvent
from .services import audit_seal, canonical_json


class CheckpointMismatch(Exception):
    """The chain no longer contains the latest checkpoint's event with the same hash."""


def checkpoint_path() -> Path:
    return Path(settings.STEWARD_AUDIT_CHECKPOINT_FILE)


def _key() -> bytes:
    if settings.STEWARD_AUDIT_CHECKPOINT_KEY:
        return settings.STEWARD_AUDIT_CHECKPOINT_KEY.encode()
    path = Path(settings.STEWARD_AUDIT_CHECKPOINT_KEY_FILE)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: two processes starting together agree on one key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"the audit checkpoint key file {path} is empty")
    return key.encode()


def checkpoint_signature(body: dict) -> str:
    """HMAC-SHA256 of the canonical JSON of `{"seq", "hash", "time"}`."""
    message = canonical_json({k: body[k] for k in ("seq", "hash", "time")})
    return hmac.new(_key(), message.encode(), hashlib.sha256).hexdigest()


def checkpoints_read(path: Path | None = None) -> list[dict]:
    """Every checkpoint line of the file, oldest first, each with `line` and `valid` (signature)."""
    path = path or checkpoint_path()
    if not path.exists():
        return []
    found = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                body = json.loads(line)
                valid = hmac.compare_digest(checkpoint_signature(body), str(body.get("signature", "")))
            except (ValueError, KeyError, TypeError):
                body, valid = {}, False
            found.append({**body, "line": number, "valid": valid})
    return found


def latest_checkpoint(path: Path | None = None) -> dict | None:
    """The newest checkpoint with a valid signature, as `{"seq", "hash", "time"}`, or None."""
    valid = [c for c in checkpoints_read(path) if c["valid"]]
    if not valid:
        return None
    newest = max(valid, key=lambda c: c["seq"])
    return {k: newest[k] for k in ("seq", "hash", "time")}


def checkpoint_write() -> dict | None:
    """Seal waiting events, then append a signed checkpoint of the chain's head to the file.

    Returns the checkpoint written, or None when the chain is empty or its head is already the
    latest checkpoint (nothing new to vouch for).
    """
    audit_seal()
    head = AuditEvent.objects.filter(seq__isnull=False).order_by("-seq").values("seq", "hash").first()
    if head is None:
        return None
    latest = latest_checkpoint()
    if latest and latest["seq"] == head["seq"] and latest["hash"] == head["hash"]:
        return None
    if latest:
        # Never vouch for a chain that no longer contains the last checkpoint: that would make
        # a truncation or a re-hash look normal from here on.
        then = AuditEvent.objects.filter(seq=latest["seq"]).values_list("hash", flat=True).first()
        if then != latest["hash"]:
            raise CheckpointMismatch(
                f"the trail no longer matches the checkpoint of {latest['time']} (event #{latest['seq']}); "
                "run verify_audit_chain. No checkpoint written."
            )
    body = {"seq": head["seq"], "hash": head["hash"], "time": timezone.now().isoformat()}
    body["signature"] = checkpoint_signature(body)
    path = checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_APPEND: each line lands whole at the end, whoever else appends.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(body, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return body
