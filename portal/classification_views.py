"""A use case's governance pages: its risk classification (questionnaire, live tier preview,
override) and its RACI matrix.

Like `views.py`: read with bounded queries, write only through governance's services (`governance.classification`, `governance.raci`); the forms
(`governance_forms`) parse the input, the service decides, and a refusal shows its
`ServiceError.message` above the form and its `fields` next to the inputs they concern.
"""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

import governance.classification
import governance.raci
import governance.selectors
from core.errors import ServiceError
from governance import access, defaults, scoring
from governance.models import Classification
from registry.models import Proposal, UseCase

from .governance_forms import ClassificationForm, OverrideForm, RaciForm, attach, errors_of


def _use_case_or_404(pk):
    return get_object_or_404(UseCase.objects.select_related("owner"), pk=pk)


def pending_for(use_case, kind):
    """The pending proposal of this kind on the use case (its classification or RACI), if any."""
    return (Proposal.objects.filter(use_case=use_case, kind=kind, status=Proposal.Status.PENDING)
            .select_related("proposed_by").order_by("-created_at").first())


# --- classification ------------------------------------------------------------------------


def choice_labels(scheme_data: dict) -> dict:
    """{question key: (question label, {answer key: answer label})}."""
    return {
        q["key"]: (q.get("label", q["key"]), {c["key"]: c.get("label", c["key"]) for c in q["choices"]})
        for q in scheme_data.get("questions", [])
    }


def _labelled_drivers(drivers: list, scheme_data: dict) -> list[dict]:
    labels = choice_labels(scheme_data)
    result = []
    for d in drivers:
        question, answers = labels.get(d["question"], (d["question"], {}))
        result.append({**d, "question_label": question, "answer_label": answers.get(d["answer"], d["answer"])})
    return result


def _classification_context(request, use_case, *, form=None, override_form=None):
    """The page; `form` / `override_form` are the posted forms to show again with their errors."""
    scheme = governance.selectors.scheme_current()
    history = list(
        Classification.objects.filter(use_case=use_case).select_related("created_by", "overridden_by", "confirmed_by", "scheme")
        .order_by("-created_at", "-pk")[:20]
    )
    current = history[0] if history else None
    if form is not None:
        answers = {k[2:]: v for k, v in form.data.items() if k.startswith("q-") and v}
        ethics = {k[2:]: v for k, v in form.data.items() if k.startswith("e-")}
    else:
        answers = dict(current.answers) if current else {}
        ethics = dict(current.ethics) if current else {}
    errors = errors_of(form)
    questions = [
        {**q, "selected": answers.get(q["key"], ""), "errors": errors.get(f"q-{q['key']}", [])}
        for q in scheme.data.get("questions", [])
    ]
    ethic_questions = [
        {**e, "value": ethics.get(e["key"], ""), "errors": errors.get(f"e-{e['key']}", [])}
        for e in scheme.data.get("ethics", [])
    ]
    ethic_labels = {e["key"]: e.get("label", e["key"]) for e in scheme.data.get("ethics", [])}
    return {
        "section": "use_cases",
        "use_case": use_case,
        "scheme": scheme,
        "questions": questions,
        "ethic_questions": ethic_questions,
        "current": current,
        "current_drivers": _labelled_drivers(current.drivers, current.scheme.data) if current else [],
        "current_ethics": [(ethic_labels.get(k, k), v) for k, v in (current.ethics if current else {}).items() if v],
        "history": history,
        "tiers": sorted(defaults.TIERS.items()),
        "can_classify": access.can_classify(request.user, use_case),
        "applies_directly": access.applies_directly(request.user, use_case),
        "can_override": access.can_override(request.user) and use_case.owner_id != request.user.pk,
        "pending": pending_for(use_case, Proposal.Kind.CLASSIFICATION),
        "errors": errors_of(override_form),
        "override": {k: override_form.data.get(k, "") for k in ("tier", "justification")} if override_form else {},
        "preview": _preview(scheme.data, answers) if answers else None,
    }


def _preview(scheme_data: dict, answers: dict) -> dict:
    """The tier these answers would get, or which questions are still unanswered."""
    missing = scoring.validate_answers(scheme_data, answers)
    if missing:
        labels = choice_labels(scheme_data)
        return {"complete": False, "missing": [labels.get(k, (k,))[0] for k in missing]}
    result = scoring.compute_tier(scheme_data, answers)
    return {
        "complete": True,
        "tier": result.tier,
        "tier_label": defaults.TIERS.get(result.tier, ""),
        "score": result.score,
        "drivers": _labelled_drivers(result.drivers, scheme_data),
    }


@login_required
def classification(request, pk):
    """The questionnaire: GET shows it with the current answers; POST classifies via the service."""
    use_case = _use_case_or_404(pk)
    if request.method != "POST":
        return render(request, "portal/governance/classification.html", _classification_context(request, use_case))
    form = ClassificationForm(request.POST, scheme_data=governance.selectors.scheme_current().data)
    status = 400
    if form.is_valid():
        try:
            result = governance.classification.classification_submit(
                actor=request.user, use_case=use_case, answers=form.answers(), ethics=form.ethics()
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
            attach(form, exc, rename=ClassificationForm.input_for)
            status = exc.status_code
        else:
            if isinstance(result, Proposal):
                messages.success(request, f"Proposed: {result.summary}. The current classification holds until a risk officer confirms.")
            else:
                messages.success(request, f"Classified: risk tier {result.tier} — {defaults.TIERS[result.tier]}.")
            return redirect("portal:classification", pk=use_case.pk)
    context = _classification_context(request, use_case, form=form)
    return render(request, "portal/governance/classification.html", context, status=status)


@login_required
@require_POST
def classification_preview(request, pk):
    """htmx: the tier the answers on the form would get, computed without saving anything."""
    _use_case_or_404(pk)
    scheme = governance.selectors.scheme_current()
    form = ClassificationForm(request.POST, scheme_data=scheme.data)
    form.is_valid()  # a half-filled form is what a preview is for: the valid answers count
    return render(request, "portal/governance/_tier_preview.html", {"preview": _preview(scheme.data, form.answers())})


@login_required
@require_POST
def classification_override(request, pk):
    use_case = _use_case_or_404(pk)
    form = OverrideForm(request.POST)
    status = 400
    if form.is_valid():
        tier = form.cleaned_data["tier"]
        try:
            governance.classification.classification_override(
                actor=request.user, use_case=use_case, tier=tier, justification=form.cleaned_data["justification"]
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
            attach(form, exc)
            status = exc.status_code
        else:
            messages.success(request, f"Tier overridden to {tier}; the justification is on file.")
            return redirect("portal:classification", pk=use_case.pk)
    context = _classification_context(request, use_case, override_form=form)
    return render(request, "portal/governance/classification.html", context, status=status)


# --- RACI ----------------------------------------------------------------------------------


def _raci_context(request, use_case, raci, *, form=None):
    """The grid as stored, or as posted in `form` with the service's messages per row and role."""
    users = get_user_model().objects.only("pk", "username")
    if form is not None:
        cells = {task: {role: form.data.get(f"cell-{task}-{role}", "") for role in defaults.RACI_ROLES}
                 for task in defaults.RACI_TASKS}
        assignments = form.typed_people()
        row_errors, errors = form.row_errors, errors_of(form)
    else:
        cells, row_errors, errors = raci.cells, {}, {}
        ids = {pk for pks in raci.assignments.values() for pk in pks}
        names = dict(users.filter(pk__in=ids).values_list("pk", "username")) if ids else {}
        assignments = {role: ", ".join(sorted(names.get(pk, f"#{pk}") for pk in pks)) for role, pks in raci.assignments.items()}
    roles = [{"key": k, "label": v} for k, v in defaults.RACI_ROLES.items()]
    rows = [
        {
            "key": task, "label": label,
            "cells": [{"role": r["key"], "role_label": r["label"], "value": cells.get(task, {}).get(r["key"], "")} for r in roles],
            "errors": row_errors.get(task, []) + [m for r in roles for m in errors.get(f"cell-{task}-{r['key']}", [])],
        }
        for task, label in defaults.RACI_TASKS.items()
    ]
    people = [
        {"key": r["key"], "label": r["label"], "value": assignments.get(r["key"], ""), "errors": errors.get(f"people-{r['key']}", [])}
        for r in roles
    ]
    # Who signs which move, as the RACI stands (Accountable or Responsible for the stage's task).
    approvers = []
    if raci.pk:
        all_ids = {pk for pks in raci.assignments.values() for pk in pks}
        names = dict(users.filter(pk__in=all_ids).values_list("pk", "username")) if all_ids else {}
        for stage, task in defaults.STAGE_TASK.items():
            if stage == "archived":
                continue
            ids = raci.people_for(task, {"A", "R"})
            approvers.append({"stage": stage, "task": defaults.RACI_TASKS[task], "people": sorted(names.get(i, f"#{i}") for i in ids)})
    return {
        "section": "use_cases",
        "use_case": use_case,
        "raci": raci,
        "roles": roles,
        "rows": rows,
        "people": people,
        "approvers": approvers,
        "values": defaults.RACI_VALUES,
        "can_edit": access.can_edit_raci(request.user, use_case),
        "applies_directly": access.applies_directly(request.user, use_case),
        "pending": pending_for(use_case, Proposal.Kind.RACI),
        # Messages about the matrix as a whole (or a task the grid does not show).
        "other_errors": {"matrix": errors.get("__all__", [])} if errors.get("__all__") else {},
    }


@login_required
def raci(request, pk):
    """The RACI matrix as an editable grid; the service validates and its messages show per row."""
    use_case = _use_case_or_404(pk)
    matrix = governance.selectors.raci_for(use_case=use_case)
    if request.method != "POST":
        return render(request, "portal/governance/raci.html", _raci_context(request, use_case, matrix))
    form = RaciForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            result = governance.raci.raci_update(
                actor=request.user, use_case=use_case, cells=form.cells(), assignments=form.assignments()
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
            form.add_service_errors(exc)
            status = exc.status_code
        else:
            if isinstance(result, Proposal):
                messages.success(request, "Proposed: who approves moves changes once a risk officer confirms; the matrix in force holds until then.")
            else:
                messages.success(request, "RACI matrix saved.")
            return redirect("portal:raci", pk=use_case.pk)
    return render(request, "portal/governance/raci.html", _raci_context(request, use_case, matrix, form=form), status=status)
