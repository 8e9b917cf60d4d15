"""Read-side questions answered from the audit trail alone, and who may read which events."""

from datetime import datetime

from django.db.models import Q, QuerySet

from .models import AuditEvent

SENSITIVE_PERMISSION = "audit.see_sensitive_auditevent"
# Events about people's accounts and API tokens (object labels as `audit_record` writes them):
# a user without the sensitive permission sees only their own.
_PERSONAL_OBJECT_TYPES = ("auth.user", "core.apitoken")


def audit_sees_sensitive(user) -> bool:
    """Sign-in events and source IP addresses are for auditors and administrators (the holders of
    `audit.see_sensitive_auditevent`; `core.role_permissions` grants it to those two roles)."""
    return bool(user and getattr(user, "is_authenticated", False) and user.has_perm(SENSITIVE_PERMISSION))


def events_visible_to(user) -> QuerySet:
    """The events `user` may read — the one restriction behind the API's list, detail and export,
    the admin console and the portal.

    Auditors and administrators see every event. Everybody else sees the events of the objects
    every role may see (the inventory, governance, experiments), but no sign-in, sign-out or
    failed sign-in, and only their own account's and tokens' events. Source IP addresses are
    shown only with `audit_sees_sensitive` (the serializers and exports blank them).
    """
    events = AuditEvent.objects.all()
    if not getattr(user, "is_authenticated", False):
        return events.none()
    if audit_sees_sensitive(user):
        return events
    return events.exclude(action__startswith="auth.").exclude(
        Q(object_type__in=_PERSONAL_OBJECT_TYPES) & ~Q(actor_id=user.pk)
    )


def latest_checkpoint() -> dict | None:
    """The newest validly signed checkpoint `{"seq", "hash", "time"}` (see `audit.checkpoints`)."""
    from .checkpoints import latest_checkpoint as newest

    return newest()

# The events that move versions between stages, and the model events that rename or remove them.
_VERSION_EVENTS = ("model_version.register", "model_version.stage_change")
_MODEL_EVENTS = ("model.update", "model.delete")
# Keys of a stage change's `changes` that describe the change itself; the rest is evidence.
_STAGE_CHANGE_KEYS = {"stage", "reason", "model", "number"}


def _after(changes: dict, key: str):
    value = changes.get(key)
    return value.get("after") if isinstance(value, dict) else None


def _model_name(event: dict) -> str:
    name = _after(event["changes"], "model")
    if name:
        return name
    # Registrations carry no model name; the version's repr is "<model> v<number>" and model
    # names contain no spaces, so the last " v" splits them.
    return event["object_repr"].rsplit(" v", 1)[0]


def stage_snapshot(*, at: datetime) -> dict:
    """Which version of each model was in each stage at the instant `at`, from the trail only.

    Replays `model_version.register` (a new version starts in its registered stage, normally
    development) and `model_version.stage_change` events up to `at`, plus model renames and
    deletions. Each version in the answer names when it entered its stage, who moved it, the
    reason, who approved it and the policy version (the change's evidence `approved_by` and
    `policy_version`, `None` when the change had none), all evidence keys, the request id and the
    event's sequence number. Returns::

        {"at": "...", "models": [{"model": "credit-gbm",
                                  "stages": {"production": [{"version_id": 7, "number": 2, ...}]}}]}

    Only stages that hold a version appear; models sorted by name, versions by number.
    """
    events = (
        AuditEvent.objects.filter(action__in=_VERSION_EVENTS + _MODEL_EVENTS, timestamp__lte=at)
        .order_by("seq")
        .values("seq", "timestamp", "actor_username", "action", "object_id", "object_repr", "changes", "request_id")
    )
    versions: dict[str, dict] = {}
    for event in events.iterator(chunk_size=2000):
        changes = event["changes"] or {}
        if event["action"] in _MODEL_EVENTS:
            name = changes.get("name") or {}
            if event["action"] == "model.delete":
                versions = {k: v for k, v in versions.items() if v["model"] != name.get("before")}
            elif name.get("before") and name.get("after"):
                for version in versions.values():
                    if version["model"] == name["before"]:
                        version["model"] = name["after"]
            continue
        stage = _after(changes, "stage")
        if not stage:
            continue
        evidence = {k: v.get("after") for k, v in changes.items() if k not in _STAGE_CHANGE_KEYS and isinstance(v, dict)}
        is_register = event["action"] == "model_version.register"
        if is_register:
            evidence = {}  # a registration's other fields are the version's content, not evidence
        previous = versions.get(event["object_id"], {})
        versions[event["object_id"]] = {
            "version_id": int(event["object_id"]) if event["object_id"].isdigit() else event["object_id"],
            "model": _model_name(event),
            "number": _after(changes, "number") or previous.get("number"),
            "stage": stage,
            "since": event["timestamp"].isoformat(),
            "moved_by": event["actor_username"],
            "reason": _after(changes, "reason") or ("registered" if is_register else ""),
            "approved_by": evidence.get("approved_by"),
            "policy_version": evidence.get("policy_version"),
            "evidence": evidence,
            "request_id": event["request_id"],
            "event_seq": event["seq"],
        }

    models: dict[str, dict[str, list]] = {}
    for version in sorted(versions.values(), key=lambda v: (v["model"], v["number"] or 0)):
        entry = {k: v for k, v in version.items() if k not in ("model", "stage")}
        models.setdefault(version["model"], {}).setdefault(version["stage"], []).append(entry)
    return {
        "at": at.isoformat(),
        "models": [{"model": name, "stages": stages} for name, stages in sorted(models.items())],
    }
