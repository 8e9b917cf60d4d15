"""Who may do what with data-subject rights. Services call these; nothing else decides.

Data-subject requests are made by risk officers and admins: they act for the organisation
towards the person, and the data scientists whose models a request touches are the governed.
"""

from core.roles import Role, has_role, is_admin
from governance.selectors import raci_for


def can_make_request(user) -> bool:
    return has_role(user, Role.RISK_OFFICER, Role.ADMIN)


def can_upload_keys(user, dataset) -> bool:
    """Only the dataset's owner (a data scientist) or an admin writes its key index."""
    return is_admin(user) or (has_role(user, Role.DATA_SCIENTIST) and dataset.owner_id == user.pk)


def can_record_retraining(user, obligation) -> bool:
    """The model's data scientists (owner, use case owner), risk officers and admins may point
    at a retrained version; the service checks the version, so no one can close it by saying so."""
    model = obligation.model
    return is_admin(user) or has_role(user, Role.RISK_OFFICER) or (
        has_role(user, Role.DATA_SCIENTIST) and user.pk in (model.owner_id, model.use_case.owner_id)
    )


def governed_ids(obligation) -> set[int]:
    """The people the obligation constrains: the model's owner, its use case's owner and the
    creators of the affected versions. None of them signs its risk acceptance."""
    ids = {obligation.model.owner_id, obligation.model.use_case.owner_id}
    ids |= {v.created_by_id for v in obligation.versions.all()}
    return ids


def accountable_ids(use_case) -> set[int]:
    """The use case's Accountable for model acceptance (RACI)."""
    return raci_for(use_case=use_case).people_for("model_acceptance", {"A"})


def signing_capacities(user, obligation) -> set[str]:
    """What this person's signature of a risk acceptance could count as (empty: may not sign)."""
    if not getattr(user, "is_authenticated", False) or user.pk in governed_ids(obligation):
        return set()
    result = set()
    if user.pk in accountable_ids(obligation.model.use_case) and has_role(
            user, Role.DATA_SCIENTIST, Role.RISK_OFFICER, Role.ADMIN):
        result.add("accountable")
    if has_role(user, Role.RISK_OFFICER):
        result.add("risk_officer")
    return result
