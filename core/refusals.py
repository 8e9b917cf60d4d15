"""Refused attempts are audited: an auditor's write, a self-approval, a data scientist's policy
edit each leave an `access.refused` event, committed on its own after the refused work rolled
back (the way the experiment protocol-lock refusal always was).

Two places call `refusal_record`, so nothing refused goes unrecorded and nothing twice:

- `@refusals_audited("signoff.approve")` around a service (outside its `transaction.atomic`):
  a `Forbidden` it raises is recorded with the service's object, whoever called it (portal,
  API, admin, command, a future MLflow adapter);
- the API's exception handler records a refusal no service recorded (the permission class
  refusing an auditor's write before any service runs).

Anonymous attempts are not recorded (sign-in failures are, by the login signal); they would
let anyone grow the chain.
"""

import functools

from django.db import transaction

from audit.services import audit_record

from .errors import Forbidden

# Keyword arguments that name the object a service acts on, in order of preference.
_OBJECT_KWARGS = ("promotion", "proposal", "exception", "review", "version", "model", "use_case", "dataset", "experiment")


def refusal_record(*, actor, attempted: str, reason: str, obj=None, details: dict | None = None):
    """Write one `access.refused` event in its own transaction."""
    if not getattr(actor, "is_authenticated", False):
        return None
    changes = {"attempted": {"before": None, "after": attempted}, "reason": {"before": None, "after": reason}}
    for key, value in (details or {}).items():
        changes[key] = {"before": None, "after": value}
    with transaction.atomic():
        return audit_record(action="access.refused", actor=actor, obj=obj, changes=changes)


def mark_audited(exc: Exception) -> None:
    exc.audited = True


def refusals_audited(attempted: str):
    """Decorate a service: a `Forbidden` it raises is audited, then re-raised."""

    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except Forbidden as exc:
                if not getattr(exc, "audited", False):
                    obj = next((kwargs[k] for k in _OBJECT_KWARGS if getattr(kwargs.get(k), "pk", None)), None)
                    refusal_record(actor=kwargs.get("actor"), attempted=attempted, reason=exc.message, obj=obj)
                    mark_audited(exc)
                raise

        return wrapper

    return decorator
