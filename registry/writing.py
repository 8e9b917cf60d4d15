"""What every registry service does while it writes: validate the row (400 naming the field),
save it turning a concurrent duplicate into a 409, set its tags (returning the audit change)."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.errors import Conflict, InvalidInput

from .models import Tag


def validate(instance, exclude=None):
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise InvalidInput("Invalid input.", fields=exc.message_dict) from exc


def save_unique(instance, *, conflict_field: str, message: str, **save_kwargs):
    """Save, turning a unique violation (a concurrent duplicate) into a 409 on `conflict_field`."""
    try:
        with transaction.atomic():
            instance.save(**save_kwargs)
    except IntegrityError as exc:
        raise Conflict(message, fields={conflict_field: [message]}) from exc


def _tags(names) -> list[Tag]:
    return [Tag.objects.get_or_create(name=n.strip().lower())[0] for n in names if n.strip()]


def set_tags(obj, names) -> dict:
    before = sorted(obj.tags.values_list("name", flat=True)) if obj.pk else []
    tags = _tags(names)
    obj.tags.set(tags)
    after = sorted(t.name for t in tags)
    return {"tags": {"before": before, "after": after}} if before != after else {}
