"""Exceptions to a gate: a risk officer waives one gate, for one version or every version of a
use case, until a date at most MAX_EXCEPTION_DAYS ahead. Human sign-off and blocking gates are
never waived, and nobody grants an exception for a model or use case they own.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from core.errors import Conflict, Forbidden, InvalidInput
from core.refusals import refusals_audited
from registry.models import ModelVersion, UseCase

from . import access
from .gates import all_gates, get_gate
from .models import GateException
from .selectors import policy_current

MAX_EXCEPTION_DAYS = 180


def exception_body(exception: GateException) -> dict:
    return {"id": exception.pk, "gate": exception.gate, "justification": exception.justification,
            "granted_by": exception.granted_by.get_username(), "expires_at": exception.expires_at.isoformat(),
            "scope": f"version {exception.version_id}" if exception.version_id else f"use case {exception.use_case_id}"}


def exceptions_in_force(*, version: ModelVersion) -> dict[str, GateException]:
    """{gate: exception} in force for this version (its own, else its use case's)."""
    now = timezone.now()
    found = (GateException.objects.filter(Q(version=version) | Q(use_case_id=version.model.use_case_id))
             .filter(revoked_at__isnull=True, expires_at__gt=now).select_related("granted_by").order_by("-expires_at"))
    result = {}
    for exception in found:
        current = result.get(exception.gate)
        if current is None or (exception.version_id and not current.version_id):
            result[exception.gate] = exception
    return result


@refusals_audited("gate_exception.grant")
@transaction.atomic
def gate_exception_grant(*, actor, gate: str, justification: str, expires_at, version: ModelVersion | None = None,
                         use_case: UseCase | None = None) -> GateException:
    """A risk officer waives one gate for one version (or one use case) until `expires_at`."""
    if not access.can_grant_exception(actor):
        raise Forbidden("Only risk officers grant exceptions to a gate.")
    errors = {}
    if (version is None) == (use_case is None):
        errors["scope"] = ["Name one model version or one use case."]
    if gate == "approvals":
        errors["gate"] = ["Human sign-off cannot be waived."]
    elif get_gate(gate) is not None and get_gate(gate).blocking:
        errors["gate"] = ["This gate applies to every move and cannot be waived."]
    elif gate not in all_gates() and gate not in policy_gates():
        errors["gate"] = ["Unknown gate."]
    if not (justification or "").strip():
        errors["justification"] = ["Say why the gate may be skipped."]
    now = timezone.now()
    if expires_at is None or expires_at <= now:
        errors["expires_at"] = ["Must be in the future."]
    elif expires_at > now + timedelta(days=MAX_EXCEPTION_DAYS):
        errors["expires_at"] = [f"At most {MAX_EXCEPTION_DAYS} days ahead; grant a new one when it runs out."]
    if errors:
        raise InvalidInput("Invalid exception.", fields=errors)
    owner_ids = {(version.model.use_case if version else use_case).owner_id}
    if version is not None:
        owner_ids |= {version.model.owner_id, version.created_by_id}
    if actor.pk in owner_ids:
        raise Forbidden("You own this model or use case; another risk officer must grant its exceptions.")
    exception = GateException.objects.create(gate=gate, version=version, use_case=use_case, justification=justification.strip(),
                                             expires_at=expires_at, granted_by=actor)
    audit_record(action="gate_exception.grant", actor=actor, obj=exception,
                 changes={"gate": {"before": None, "after": gate},
                          "scope": {"before": None, "after": str(version or use_case)},
                          "justification": {"before": None, "after": exception.justification},
                          "expires_at": {"before": None, "after": expires_at}})
    return exception


@refusals_audited("gate_exception.revoke")
@transaction.atomic
def gate_exception_revoke(*, actor, exception: GateException) -> GateException:
    if not access.can_grant_exception(actor):
        raise Forbidden("Only risk officers revoke exceptions to a gate.")
    exception = GateException.objects.select_for_update().get(pk=exception.pk)
    if exception.revoked_at:
        raise Conflict("This exception is already revoked.")
    exception.revoked_at, exception.revoked_by = timezone.now(), actor
    exception.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(action="gate_exception.revoke", actor=actor, obj=exception,
                 changes={"revoked_at": {"before": None, "after": exception.revoked_at}})
    return exception


def policy_gates() -> set[str]:
    """Gate keys the policy in force names (some may have no check installed yet)."""
    return {m.get("gate") for rules in policy_current().data.get("tiers", {}).values()
            for measures in rules.values() for m in measures if m.get("gate")}
