"""MLflow's key/value tags, on registered models and on versions alike: checked, set or deleted
under the owning object's lock, and audited on that object."""

from audit.services import audit_record
from core.errors import InvalidInput, NotFound

MAX_TAG_KEY = 250
MAX_TAG_VALUE = 5000


def check_tag(key: str, value: str) -> None:
    errors = {}
    if not key or len(key) > MAX_TAG_KEY:
        errors["key"] = [f"A tag key has 1–{MAX_TAG_KEY} characters."]
    if value is not None and len(value) > MAX_TAG_VALUE:
        errors["value"] = [f"A tag value has at most {MAX_TAG_VALUE} characters."]
    if errors:
        raise InvalidInput("Invalid tag.", fields=errors)


def tag_set(*, actor, tags, obj, key: str, value: str, action: str):
    """Set tag `key` of `obj` (`tags`: its related manager) to `value`; audited when it changed.
    Callers check permission and run it in their transaction."""
    check_tag(key, value)
    tag = tags.select_for_update().filter(key=key).first()
    before = tag.value if tag else None
    if tag is None:
        tag = tags.create(key=key, value=value or "")
    elif tag.value != value:
        tag.value = value or ""
        tag.save(update_fields=["value"])
    if before != tag.value:
        audit_record(action=action, actor=actor, obj=obj, changes={f"tag:{key}": {"before": before, "after": tag.value}})
    return tag


def tag_delete(*, actor, tags, obj, key: str, action: str, missing: str) -> None:
    tag = tags.filter(key=key).first()
    if tag is None:
        raise NotFound(missing)
    audit_record(action=action, actor=actor, obj=obj, changes={f"tag:{key}": {"before": tag.value, "after": None}})
    tag.delete()
