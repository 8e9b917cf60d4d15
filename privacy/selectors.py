"""Reads: the impact of a data-subject request, obligations per person and per model.

The impact walks dataset lineage one query per level (`registry.lineage`), then reads the
versions trained or validated on any affected dataset from the two link tables (two queries)
and the versions themselves (one).
"""

from collections import Counter

from django.db.models import Q
from django.utils import timezone

from core.roles import Role, has_role
from governance.models import RaciMatrix
from registry.lineage import ancestors, descendants
from registry.models import Dataset, ModelVersion

from .models import Obligation, SubjectKey

_training = ModelVersion.training_datasets.through
_validation = ModelVersion.validation_datasets.through


def affected_datasets(*, subject_hash: str = "", dataset_ids=()) -> dict[int, dict]:
    """{dataset id: {"how": key_index | named | derived, "level": n}}: the datasets containing
    the subject (key index) or named, and every dataset derived from them (level = steps)."""
    found: dict[int, dict] = {pk: {"how": "named", "level": 0} for pk in dataset_ids}
    if subject_hash:
        for pk in SubjectKey.objects.filter(key_hash=subject_hash).values_list("dataset_id", flat=True):
            found[pk] = {"how": "key_index", "level": 0}
    for pk, level in descendants(found).items():
        found.setdefault(pk, {"how": "derived", "level": level})
    return found


def versions_using(dataset_ids) -> dict[int, list[tuple[int, str]]]:
    """{version id: [(dataset id, "training" | "validation")]} for versions using any of them."""
    uses: dict[int, list[tuple[int, str]]] = {}
    for through, role in ((_training, "training"), (_validation, "validation")):
        for version_id, dataset_id in through.objects.filter(dataset_id__in=dataset_ids).values_list(
                "modelversion_id", "dataset_id"):
            uses.setdefault(version_id, []).append((dataset_id, role))
    return uses


def impact_compute(*, subject_hash: str = "", dataset_ids=()) -> dict:
    """What a request touches, as plain JSON (stored on the request as its receipt's snapshot)."""
    found = affected_datasets(subject_hash=subject_hash, dataset_ids=dataset_ids)
    datasets = Dataset.objects.filter(pk__in=found).order_by("name", "version")
    uses = versions_using(found)
    versions = ModelVersion.objects.filter(pk__in=uses).select_related("model__use_case").order_by("model__name", "number")
    version_rows = [
        {"id": v.pk, "model": v.model.name, "model_id": v.model_id, "number": v.number, "stage": v.stage,
         "use_case": v.model.use_case.name, "use_case_id": v.model.use_case_id,
         "automated_decisions": v.model.use_case.automated_decisions,
         "datasets": [{"id": d, "role": role} for d, role in sorted(uses[v.pk])]}
        for v in versions
    ]
    unindexed = []
    if subject_hash:
        # Personal data Steward cannot check for this subject: no key index was uploaded.
        unindexed = [
            {"id": d.pk, "name": d.name, "version": d.version}
            for d in Dataset.objects.filter(contains_personal_data=True, subject_key_index__isnull=True)
            .exclude(pk__in=found).order_by("name", "version")
        ]
    return {
        "datasets": [{"id": d.pk, "name": d.name, "version": d.version, **found[d.pk]} for d in datasets],
        "versions": version_rows,
        "stages": dict(Counter(row["stage"] for row in version_rows)),
        "models": sorted({row["model"] for row in version_rows}),
        "unindexed_personal_datasets": unindexed,
    }


def dataset_uses_affected(*, dataset_ids, affected_ids, subject_hash: str = "") -> list[int]:
    """Which of `dataset_ids` hold affected data: one of the affected datasets, derived from one,
    or (for a subject) listing the subject in its key index or an ancestor's."""
    ids = set(dataset_ids)
    lineage = ids | set(ancestors(ids))
    bad = lineage & set(affected_ids)
    if subject_hash:
        bad |= set(SubjectKey.objects.filter(dataset_id__in=lineage, key_hash=subject_hash).values_list("dataset_id", flat=True))
    return sorted(bad)


def obligations_overdue(*, model_id: int, today=None) -> list[Obligation]:
    today = today or timezone.localdate()
    return list(Obligation.objects.filter(model_id=model_id, status=Obligation.Status.OPEN, due_date__lt=today))


def obligations_to_act(user):
    """Open obligations this person must act on: the model's data scientists (retrain), the use
    case's Accountable and risk officers (sign a risk acceptance). Admins see them all."""
    if not has_role(user, Role.DATA_SCIENTIST, Role.RISK_OFFICER, Role.ADMIN):
        return Obligation.objects.none()
    open_ = Obligation.objects.filter(status=Obligation.Status.OPEN).select_related("model__use_case")
    if has_role(user, Role.RISK_OFFICER, Role.ADMIN):
        return open_.exclude(signatures__signer=user).order_by("due_date", "pk")
    # Use cases where this person is the Accountable of model acceptance: one query over RACIs.
    use_case_ids = open_.values_list("model__use_case_id", flat=True).distinct()
    accountable = [r.use_case_id for r in RaciMatrix.objects.filter(use_case_id__in=use_case_ids)
                   if user.pk in r.people_for("model_acceptance", {"A"})]
    mine = Q(model__owner=user) | Q(model__use_case__owner=user) | Q(model__use_case_id__in=accountable)
    return open_.filter(mine).exclude(signatures__signer=user).order_by("due_date", "pk")


def obligation_body(obligation: Obligation, *, today=None) -> dict:
    today = today or timezone.localdate()
    return {
        "id": obligation.pk,
        "source": obligation.source,
        "request": obligation.request_id,
        "dataset": str(obligation.dataset) if obligation.dataset_id else None,
        "model": obligation.model.name,
        "use_case": obligation.model.use_case.name,
        "versions": [{"number": v.number, "stage": v.stage} for v in obligation.versions.all()],
        "due_date": obligation.due_date,
        "overdue": obligation.status == Obligation.Status.OPEN and obligation.due_date < today,
        "status": obligation.status,
        "status_label": obligation.get_status_display(),
        "retrained_version": obligation.retrained_version.number if obligation.retrained_version_id else None,
        "signatures": [
            {"signer": s.signer.get_username(), "capacity": s.capacity, "statement": s.statement, "signed_at": s.signed_at}
            for s in obligation.signatures.all()
        ],
        "closed_at": obligation.closed_at,
    }


def obligations_with_details():
    return Obligation.objects.select_related("model__use_case", "dataset", "retrained_version").prefetch_related(
        "versions", "signatures__signer")


def request_receipt(request) -> dict:
    """What an auditor reads: the request, its impact as computed when it was made, each
    obligation with how it was closed and who signed, and the objections recorded."""
    obligations = obligations_with_details().filter(request=request).order_by("model__name", "pk")
    return {
        "id": request.pk,
        "kind": request.kind,
        "kind_label": request.get_kind_display(),
        "reference": request.reference,
        "subject_key_given": bool(request.subject_hash),
        "datasets_named": [{"id": d.pk, "name": d.name, "version": d.version} for d in request.datasets.all()],
        "note": request.note,
        "created_by": request.created_by.get_username(),
        "created_at": request.created_at,
        "impact": request.impact,
        "obligations": [obligation_body(o) for o in obligations],
        "open_obligations": sum(1 for o in obligations if o.status == Obligation.Status.OPEN),
        "objections": [
            {"use_case": o.use_case.name, "human_review_route": o.human_review_route}
            for o in request.objections.select_related("use_case")
        ],
    }


def dataset_lineage(dataset: Dataset) -> dict:
    """The lineage graph up (what it derives from) and down (what derives from it), each node
    with its level and the ids it derives from: one query per level, then two."""
    up, down = ancestors([dataset.pk]), descendants([dataset.pk])
    ids = {dataset.pk, *up, *down}
    parents: dict[int, list[int]] = {}
    links = Dataset.derived_from.through.objects.filter(from_dataset_id__in=ids, to_dataset_id__in=ids)
    for child, parent in links.values_list("from_dataset_id", "to_dataset_id"):
        parents.setdefault(child, []).append(parent)
    rows = Dataset.objects.in_bulk(ids)

    def node(pk, level):
        d = rows[pk]
        return {"id": pk, "name": d.name, "version": d.version, "level": level, "derived_from": sorted(parents.get(pk, [])),
                "contains_personal_data": d.contains_personal_data}

    order = lambda items: sorted(items, key=lambda kv: (kv[1], rows[kv[0]].name, rows[kv[0]].version))  # noqa: E731
    return {
        "dataset": node(dataset.pk, 0),
        "ancestors": [node(pk, level) for pk, level in order(up.items())],
        "descendants": [node(pk, level) for pk, level in order(down.items())],
    }
