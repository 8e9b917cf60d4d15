"""The portal's governance pages: a use case's classification and RACI, the policy matrix with its
versions and diffs, the model card, periodic reviews.

Like `views.py`: read with bounded queries, write only through the governance services, and show a
refusal's `ServiceError.message` (and its `fields` next to the inputs they concern).
"""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

import governance.classification
import governance.gate_exceptions
import governance.policy
import governance.proposal_decisions
import governance.proposals
import governance.raci
import governance.reviews
import governance.selectors
from core.errors import ServiceError
from governance import access, approvals, defaults, scoring
from governance.card import model_card_data
from governance.gates import all_gates
from governance.models import (
    Classification,
    Policy,
    PromotionRequest,
    Review,
    SignOff,
)
from registry.models import ModelVersion, Proposal, UseCase

from .paging import page_of

# Rows of sign-off history on a model page; older ones are in the audit trail and model cards.
HISTORY_LIMIT = 50


def _use_case_or_404(pk):
    return get_object_or_404(UseCase.objects.select_related("owner"), pk=pk)


# --- classification ------------------------------------------------------------------------


def _choice_labels(scheme_data: dict) -> dict:
    """{question key: (question label, {answer key: answer label})}."""
    return {
        q["key"]: (q.get("label", q["key"]), {c["key"]: c.get("label", c["key"]) for c in q["choices"]})
        for q in scheme_data.get("questions", [])
    }


def _labelled_drivers(drivers: list, scheme_data: dict) -> list[dict]:
    labels = _choice_labels(scheme_data)
    result = []
    for d in drivers:
        question, answers = labels.get(d["question"], (d["question"], {}))
        result.append({**d, "question_label": question, "answer_label": answers.get(d["answer"], d["answer"])})
    return result


def _classification_context(request, use_case, *, answers=None, ethics=None, errors=None, override=None):
    scheme = governance.selectors.scheme_current()
    history = list(
        Classification.objects.filter(use_case=use_case).select_related("created_by", "overridden_by", "confirmed_by", "scheme")
        .order_by("-created_at", "-pk")[:20]
    )
    current = history[0] if history else None
    if answers is None:
        answers = dict(current.answers) if current else {}
    if ethics is None:
        ethics = dict(current.ethics) if current else {}
    errors = errors or {}
    questions = [
        {**q, "selected": answers.get(q["key"], ""), "errors": errors.get(f"answers.{q['key']}", [])}
        for q in scheme.data.get("questions", [])
    ]
    ethic_questions = [
        {**e, "value": ethics.get(e["key"], ""), "errors": errors.get(f"ethics.{e['key']}", [])}
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
        "pending": _pending_for(use_case, Proposal.Kind.CLASSIFICATION),
        "errors": errors,
        "override": override or {},
        "preview": _preview(scheme.data, answers) if answers else None,
    }


def _preview(scheme_data: dict, answers: dict) -> dict:
    """The tier these answers would get, or which questions are still unanswered."""
    missing = scoring.validate_answers(scheme_data, answers)
    if missing:
        labels = _choice_labels(scheme_data)
        return {"complete": False, "missing": [labels.get(k, (k,))[0] for k in missing]}
    result = scoring.compute_tier(scheme_data, answers)
    return {
        "complete": True,
        "tier": result.tier,
        "tier_label": defaults.TIERS.get(result.tier, ""),
        "score": result.score,
        "drivers": _labelled_drivers(result.drivers, scheme_data),
    }


def _answers_from(post, scheme_data) -> tuple[dict, dict]:
    answers = {q["key"]: post[f"q-{q['key']}"] for q in scheme_data.get("questions", []) if post.get(f"q-{q['key']}")}
    ethics = {e["key"]: post.get(f"e-{e['key']}", "").strip() for e in scheme_data.get("ethics", [])}
    return answers, {k: v for k, v in ethics.items() if v}


@login_required
def classification(request, pk):
    """The questionnaire: GET shows it with the current answers; POST classifies via the service."""
    use_case = _use_case_or_404(pk)
    if request.method == "POST":
        answers, ethics = _answers_from(request.POST, governance.selectors.scheme_current().data)
        try:
            result = governance.classification.classification_submit(actor=request.user, use_case=use_case, answers=answers, ethics=ethics)
        except ServiceError as exc:
            messages.error(request, exc.message)
            context = _classification_context(request, use_case, answers=answers, ethics=ethics, errors=exc.fields)
            return render(request, "portal/governance/classification.html", context, status=exc.status_code)
        if isinstance(result, Proposal):
            messages.success(request, f"Proposed: {result.summary}. The current classification holds until a risk officer confirms.")
        else:
            messages.success(request, f"Classified: risk tier {result.tier} — {defaults.TIERS[result.tier]}.")
        return redirect("portal:classification", pk=use_case.pk)
    return render(request, "portal/governance/classification.html", _classification_context(request, use_case))


@login_required
@require_POST
def classification_preview(request, pk):
    """htmx: the tier the answers on the form would get, computed without saving anything."""
    _use_case_or_404(pk)
    scheme = governance.selectors.scheme_current()
    answers, _ = _answers_from(request.POST, scheme.data)
    return render(request, "portal/governance/_tier_preview.html", {"preview": _preview(scheme.data, answers)})


@login_required
@require_POST
def classification_override(request, pk):
    use_case = _use_case_or_404(pk)
    tier, justification = request.POST.get("tier", ""), request.POST.get("justification", "")
    try:
        governance.classification.classification_override(
            actor=request.user, use_case=use_case, tier=int(tier) if tier.isdigit() else 0, justification=justification
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        context = _classification_context(
            request, use_case, errors=exc.fields, override={"tier": tier, "justification": justification}
        )
        return render(request, "portal/governance/classification.html", context, status=exc.status_code)
    messages.success(request, f"Tier overridden to {tier}; the justification is on file.")
    return redirect("portal:classification", pk=use_case.pk)


def _pending_for(use_case, kind):
    return (Proposal.objects.filter(use_case=use_case, kind=kind, status=Proposal.Status.PENDING)
            .select_related("proposed_by").order_by("-created_at").first())


# --- RACI ----------------------------------------------------------------------------------


def _raci_context(request, use_case, raci, *, cells=None, assignments=None, errors=None):
    cells = cells if cells is not None else raci.cells
    errors = errors or {}
    users = get_user_model().objects.only("pk", "username")
    if assignments is None:
        ids = {pk for pks in raci.assignments.values() for pk in pks}
        names = dict(users.filter(pk__in=ids).values_list("pk", "username")) if ids else {}
        assignments = {role: ", ".join(sorted(names.get(pk, f"#{pk}") for pk in pks)) for role, pks in raci.assignments.items()}
    roles = [{"key": k, "label": v} for k, v in defaults.RACI_ROLES.items()]
    rows = [
        {
            "key": task, "label": label,
            "cells": [{"role": r["key"], "role_label": r["label"], "value": cells.get(task, {}).get(r["key"], "")} for r in roles],
            "errors": errors.get(f"cells.{task}", []),
        }
        for task, label in defaults.RACI_TASKS.items()
    ]
    people = [
        {"key": r["key"], "label": r["label"], "value": assignments.get(r["key"], ""), "errors": errors.get(f"assignments.{r['key']}", [])}
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
        "errors": errors,
        "can_edit": access.can_edit_raci(request.user, use_case),
        "applies_directly": access.applies_directly(request.user, use_case),
        "pending": _pending_for(use_case, Proposal.Kind.RACI),
        "other_errors": {k: v for k, v in errors.items() if k == "cells" or (k.startswith("cells.") and k[6:] not in defaults.RACI_TASKS)},
    }


@login_required
def raci(request, pk):
    """The RACI matrix as an editable grid; the service validates and its messages show per row."""
    use_case = _use_case_or_404(pk)
    matrix = governance.selectors.raci_for(use_case=use_case)
    if request.method == "POST":
        cells = {
            task: {role: request.POST.get(f"cell-{task}-{role}", "") for role in defaults.RACI_ROLES}
            for task in defaults.RACI_TASKS
        }
        typed = {role: request.POST.get(f"people-{role}", "") for role in defaults.RACI_ROLES}
        assignments = {
            role: [n.strip() for n in value.replace(";", ",").split(",") if n.strip()] for role, value in typed.items()
        }
        try:
            result = governance.raci.raci_update(actor=request.user, use_case=use_case, cells=cells, assignments=assignments)
        except ServiceError as exc:
            messages.error(request, exc.message)
            context = _raci_context(request, use_case, matrix, cells=cells, assignments=typed, errors=exc.fields)
            return render(request, "portal/governance/raci.html", context, status=exc.status_code)
        if isinstance(result, Proposal):
            messages.success(request, "Proposed: who approves moves changes once a risk officer confirms; the matrix in force holds until then.")
        else:
            messages.success(request, "RACI matrix saved.")
        return redirect("portal:raci", pk=use_case.pk)
    return render(request, "portal/governance/raci.html", _raci_context(request, use_case, matrix))


# --- policies ------------------------------------------------------------------------------


def _measure_view(measure: dict) -> dict:
    gate = all_gates().get(measure.get("gate", ""))
    params = measure.get("params", {}) or {}
    return {
        "text": governance.policy.measure_text(measure),
        "gate": measure.get("gate", ""),
        "gate_label": gate.label if gate else measure.get("gate", ""),
        "stages": measure.get("stages", defaults.GOVERNED_STAGES) if measure.get("gate") else [],
        "stage_words": [approvals.STAGE_WORDS.get(s, s) for s in measure.get("stages", defaults.GOVERNED_STAGES)] if measure.get("gate") else [],
        "params": params,
    }


def _matrix(policy: Policy) -> list[dict]:
    """Rows per consideration, a cell per tier with its measures."""
    tiers = policy.data.get("tiers", {})
    return [
        {
            "key": key,
            "label": label,
            "cells": [
                {"tier": t, "measures": [_measure_view(m) for m in tiers.get(str(t), {}).get(key, [])]}
                for t in sorted(defaults.TIERS)
            ],
        }
        for key, label in defaults.CONSIDERATIONS.items()
    ]


def _policy_context(request, policy: Policy, *, current: Policy):
    intervals = policy.data.get("review_interval_days", {})
    return {
        "section": "policies",
        "policy": policy,
        "current": current,
        "in_force": policy.pk == current.pk,
        "tiers": sorted(defaults.TIERS.items()),
        "matrix": _matrix(policy),
        "intervals": [intervals.get(str(t), "—") for t in sorted(defaults.TIERS)],
        "can_edit": access.can_edit_policy(request.user) and policy.pk == current.pk,
    }


@login_required
def policies(request):
    """The matrix in force; risk officers edit it cell by cell."""
    current = governance.selectors.policy_current()
    policy = Policy.objects.select_related("created_by").get(pk=current.pk)
    return render(request, "portal/governance/policy.html", _policy_context(request, policy, current=current))


@login_required
def policy_version(request, number):
    current = governance.selectors.policy_current()
    policy = get_object_or_404(Policy.objects.select_related("created_by"), number=number)
    return render(request, "portal/governance/policy.html", _policy_context(request, policy, current=current))


def _cell_rows(measures: list[dict], extra: int = 1) -> list[dict]:
    rows = []
    for i, m in enumerate(measures + [{}] * extra):
        params = m.get("params", {}) or {}
        rows.append({
            "i": i,
            "text": m.get("text", ""),
            "gate": m.get("gate", ""),
            "stages": m.get("stages", ["production"]) if m.get("gate") else ["production"],
            "role": params.get("role", "any"),
            "count": params.get("count", 1),
            "new": not m,
        })
    return rows


def _measures_from(post, original: list[dict]) -> list[dict]:
    """The cell's measures as typed; a gate's other params (e.g. subpopulations) are kept."""
    measures = []
    rows = post.get("rows", "")
    for i in range(min(int(rows), 50) if rows.isdigit() else 0):
        text = post.get(f"text-{i}", "").strip()
        gate = post.get(f"gate-{i}", "")
        # An approvals measure's text is written from its role and count by the service.
        if post.get(f"remove-{i}") or not (text or gate == "approvals"):
            continue
        measure = {"text": text}
        if gate:
            before = original[i] if i < len(original) and original[i].get("gate") == gate else {}
            params = dict(before.get("params", {}) or {})
            if gate == "approvals":
                count = post.get(f"count-{i}", "1").strip()
                params["role"] = post.get(f"role-{i}", "any")
                params["count"] = int(count) if count.lstrip("-").isdigit() else count
            measure.update(gate=gate, params=params, stages=post.getlist(f"stages-{i}"))
        measures.append(measure)
    return measures


@login_required
def policy_cell_edit(request, tier, consideration):
    """Edit the measures of one tier × consideration cell; saving stores the next policy version."""
    if str(tier) not in ("1", "2", "3", "4") or consideration not in defaults.CONSIDERATIONS:
        raise Http404("No such cell.")
    current = governance.selectors.policy_current()
    original = list(current.data.get("tiers", {}).get(str(tier), {}).get(consideration, []))
    errors, comment = {}, ""
    rows = _cell_rows(original)
    status = 200
    if request.method == "POST":
        measures = _measures_from(request.POST, original)
        comment = request.POST.get("comment", "").strip()
        base = request.POST.get("base", "")
        try:
            if base != str(current.number):
                raise ServiceError(
                    f"The policy changed since you opened this form (now version {current.number}); "
                    "review the cell as it is now and edit again."
                )
            data = {**current.data, "tiers": {**current.data.get("tiers", {})}}
            data["tiers"][str(tier)] = {**data["tiers"].get(str(tier), {}), consideration: measures}
            if not measures:
                data["tiers"][str(tier)].pop(consideration)
            policy = governance.policy.policy_update(
                actor=request.user, data=data,
                comment=comment or f"Tier {tier} · {defaults.CONSIDERATIONS[consideration]}",
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
            errors = exc.fields
            rows = _cell_rows(measures)
            status = exc.status_code
        else:
            messages.success(request, f"Saved as policy version {policy.number}.")
            return redirect("portal:policies")
    context = {
        "section": "policies",
        "policy": current,
        "tier": tier,
        "tier_label": defaults.TIERS[int(tier)],
        "consideration": consideration,
        "consideration_label": defaults.CONSIDERATIONS[consideration],
        "rows": rows,
        "gates": sorted(((k, g.label) for k, g in all_gates().items()), key=lambda g: g[1]),
        "stages": [(s, approvals.STAGE_WORDS[s]) for s in defaults.GOVERNED_STAGES],
        "approval_roles": [(r, approvals.SLOT_LABELS[r]) for r in approvals.SLOT_ROLES],
        "cell_errors": [m for k, v in errors.items() for m in v],
        "comment": comment,
        "can_edit": access.can_edit_policy(request.user),
    }
    return render(request, "portal/governance/policy_cell.html", context, status=status)


@login_required
def policy_intervals_edit(request):
    """Edit the review interval of each tier; saving stores the next policy version."""
    current = governance.selectors.policy_current()
    intervals = {t: str(current.data.get("review_interval_days", {}).get(str(t), "")) for t in sorted(defaults.TIERS)}
    errors, status = [], 200
    if request.method == "POST":
        intervals = {t: request.POST.get(f"days-{t}", "").strip() for t in sorted(defaults.TIERS)}
        try:
            if request.POST.get("base", "") != str(current.number):
                raise ServiceError(f"The policy changed since you opened this form (now version {current.number}); edit again.")
            days = {str(t): int(v) if v.isdigit() else v for t, v in intervals.items()}
            policy = governance.policy.policy_update(
                actor=request.user, data={**current.data, "review_interval_days": days},
                comment=request.POST.get("comment", "").strip() or "Review intervals",
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
            errors = [m for v in exc.fields.values() for m in v]
            status = exc.status_code
        else:
            messages.success(request, f"Saved as policy version {policy.number}.")
            return redirect("portal:policies")
    context = {
        "section": "policies",
        "policy": current,
        "intervals": [(t, defaults.TIERS[t], intervals[t]) for t in sorted(defaults.TIERS)],
        "errors": errors,
        "can_edit": access.can_edit_policy(request.user),
    }
    return render(request, "portal/governance/policy_intervals.html", context, status=status)


@login_required
def policy_versions(request):
    versions = Policy.objects.select_related("created_by").order_by("-number")
    page = page_of(request, versions)
    numbers = [p.number for p in page]
    context = {
        "section": "policies",
        "page": page,
        "querystring": "",
        "default_from": numbers[1] if len(numbers) > 1 else (numbers[0] if numbers else ""),
        "default_to": numbers[0] if numbers else "",
    }
    return render(request, "portal/governance/policy_versions.html", context)


def _measure_text(measure: dict) -> str:
    m = _measure_view(measure)
    if not m["gate"] or m["gate"] == "approvals":  # an approvals text says role, count and stages
        return m["text"]
    params = ", ".join(f"{k.replace('_', ' ')}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                       for k, v in sorted(m["params"].items()))
    return f"{m['text']} [{m['gate_label']}{'; ' + params if params else ''}; on moves to {', '.join(m['stage_words'])}]"


def _rules(measures: list[dict]) -> list[dict]:
    """Measures as rules: an approvals measure's text is derived, so it is not compared."""
    return [{k: v for k, v in m.items() if not (k == "text" and m.get("gate") == "approvals")} for m in measures]


def policy_diff_rows(old: dict, new: dict) -> list[dict]:
    """Cells whose measures differ between two policy datas: [{tier, consideration, before, after}]."""
    rows = []
    for t in sorted(defaults.TIERS):
        before_tier = old.get("tiers", {}).get(str(t), {})
        after_tier = new.get("tiers", {}).get(str(t), {})
        for key, label in defaults.CONSIDERATIONS.items():
            before, after = before_tier.get(key, []), after_tier.get(key, [])
            if _rules(before) != _rules(after):
                old_texts, new_texts = [_measure_text(m) for m in before], [_measure_text(m) for m in after]
                rows.append({
                    "tier": t, "consideration": label,
                    "before": [{"text": m, "changed": m not in new_texts} for m in old_texts],
                    "after": [{"text": m, "changed": m not in old_texts} for m in new_texts],
                })
        b_days = old.get("review_interval_days", {}).get(str(t))
        a_days = new.get("review_interval_days", {}).get(str(t))
        if b_days != a_days:
            rows.append({"tier": t, "consideration": "Review interval (days)",
                         "before": [{"text": str(b_days), "changed": True}] if b_days else [],
                         "after": [{"text": str(a_days), "changed": True}] if a_days else []})
    return rows


@login_required
def policy_diff(request):
    numbers = [request.GET.get("from", ""), request.GET.get("to", "")]
    if not all(n.isdigit() for n in numbers):
        messages.error(request, "Choose two policy versions to compare.")
        return redirect("portal:policy-versions")
    found = {p.number: p for p in Policy.objects.select_related("created_by").filter(number__in=[int(n) for n in numbers])}
    try:
        old, new = found[int(numbers[0])], found[int(numbers[1])]
    except KeyError as exc:
        raise Http404("No such policy version.") from exc
    context = {"section": "policies", "old": old, "new": new, "rows": policy_diff_rows(old.data, new.data)}
    return render(request, "portal/governance/policy_diff.html", context)


# --- model page: sign-off history and model card ---------------------------------------------


def model_signoff_history(model) -> list[PromotionRequest]:
    """Promotions of the model's versions, newest first, with their sign-offs (two queries)."""
    return list(
        PromotionRequest.objects.filter(version__model=model)
        .select_related("version", "requester", "policy")
        .prefetch_related(Prefetch("signoffs", queryset=SignOff.objects.select_related("approver", "policy").order_by("created_at", "pk")))
        .order_by("-created_at", "-pk")[:HISTORY_LIMIT]
    )


@login_required
def model_card(request, name, number):
    version = get_object_or_404(ModelVersion.objects.select_related("model"), model__name=name, number=number)
    card = model_card_data(version=version)
    context = {
        "section": "inventory",
        "model": version.model,
        "version": version,
        "card": card,
        "exception_form": GateExceptionForm() if access.can_grant_exception(request.user) else None,
        "tier_label": defaults.TIERS.get(card["use_case"]["tier"], ""),
        "markdown_url": reverse("api:version-card-md", args=[name, number]),
    }
    return render(request, "portal/governance/model_card.html", context)


# --- periodic reviews ----------------------------------------------------------------------


def overdue_reviews_count(user) -> int | None:
    """Open reviews past their due date, for the people who complete them (None for others)."""
    if not access.can_review(user):
        return None
    return Review.objects.filter(status=Review.Status.OPEN, due_date__lt=timezone.localdate()).count()


@login_required
def reviews(request):
    queryset = Review.objects.filter(status=Review.Status.OPEN).select_related("version__model").order_by("due_date", "pk")
    context = {
        "section": "reviews",
        "page": page_of(request, queryset),
        "querystring": "",
        "today": timezone.localdate(),
        "can_review": access.can_review(request.user),
        "done": Review.objects.filter(status=Review.Status.DONE).select_related("version__model", "completed_by")
        .order_by("-completed_at", "-pk")[:10],
    }
    return render(request, "portal/governance/reviews.html", context)


@login_required
@require_POST
def review_complete(request, pk):
    review = get_object_or_404(Review, pk=pk)
    try:
        governance.reviews.review_complete(actor=request.user, review=review, note=request.POST.get("note", ""))
    except ServiceError as exc:
        messages.error(request, exc.message)
        response = reviews(request)
        response.status_code = exc.status_code
        return response
    else:
        messages.success(request, f"Review of {review.version} recorded.")
    return redirect("portal:reviews")



# --- proposals: four eyes on governance data -----------------------------------------------------


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("confirm", "Confirm"), ("reject", "Reject")])
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Comment (required to reject)")


def _proposal_details(proposal) -> list[tuple[str, str]]:
    """What the proposal would change, in people's words."""
    payload = proposal.payload
    if proposal.kind == Proposal.Kind.CLASSIFICATION:
        current = governance.selectors.classification_current(use_case=proposal.use_case)
        labels = _choice_labels(governance.selectors.scheme_current().data)
        rows = [("Tier now", str(current.tier) if current else "not classified"),
                ("Tier proposed", str(payload.get("override_tier") or (current.override_tier if current and current.override_tier else payload["computed_tier"])))]
        for key, answer in payload.get("answers", {}).items():
            question, answers = labels.get(key, (key, {}))
            before = current.answers.get(key) if current else None
            if before != answer:
                rows.append((question, f"{answers.get(before, before or '—')} → {answers.get(answer, answer)}"))
        return rows
    if proposal.kind == Proposal.Kind.RACI:
        names = dict(get_user_model().objects.values_list("pk", "username"))
        from governance.models import RaciMatrix

        before = governance.selectors.raci_for(use_case=proposal.use_case)
        after = RaciMatrix(cells=payload["cells"], assignments=payload["assignments"])
        rows = []
        for stage, task in defaults.STAGE_TASK.items():
            old = sorted(names.get(i, str(i)) for i in before.people_for(task, {"A", "R"}))
            new = sorted(names.get(i, str(i)) for i in after.people_for(task, {"A", "R"}))
            if old != new:
                rows.append((f"Who signs moves to {stage} ({defaults.RACI_TASKS[task]})", f"{', '.join(old) or 'nobody'} → {', '.join(new) or 'nobody'}"))
        return rows
    return [("Model", proposal.model.name), ("From use case", proposal.use_case.name), ("To use case", proposal.target_use_case.name)]


@login_required
def proposals(request):
    pending = governance.proposals.proposals_pending()
    context = {
        "section": "proposals",
        "page": page_of(request, pending),
        "querystring": "",
        "mine_to_decide": {p.pk for p in governance.proposals.proposals_pending(user=request.user)},
        "decided": Proposal.objects.exclude(status=Proposal.Status.PENDING)
        .select_related("use_case", "model", "proposed_by", "decided_by").order_by("-decided_at", "-pk")[:20],
    }
    return render(request, "portal/governance/proposals.html", context)


@login_required
def proposal_detail(request, pk):
    proposal = get_object_or_404(Proposal.objects.select_related("use_case__owner", "model__owner", "target_use_case__owner",
                                                                 "proposed_by", "decided_by"), pk=pk)
    form = DecisionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            decision, comment = form.cleaned_data["decision"], form.cleaned_data["comment"].strip()
            try:
                if decision == "confirm":
                    governance.proposal_decisions.proposal_confirm(actor=request.user, proposal=proposal, comment=comment)
                    messages.success(request, f"Confirmed: {proposal.summary}. It is in force now.")
                else:
                    governance.proposal_decisions.proposal_reject(actor=request.user, proposal=proposal, comment=comment)
                    messages.success(request, "Rejected; nothing changed.")
                return redirect("portal:proposal", pk=proposal.pk)
            except ServiceError as exc:
                messages.error(request, exc.message)
                for field, errors in exc.fields.items():
                    if field in form.fields:
                        for error in errors:
                            form.add_error(field, error)
                status = exc.status_code
        else:
            status = 400
    context = {
        "section": "proposals",
        "proposal": proposal,
        "details": _proposal_details(proposal) if proposal.status == Proposal.Status.PENDING else [],
        "form": form,
        "can_decide": proposal.status == Proposal.Status.PENDING and access.can_decide_proposal(request.user, proposal),
    }
    return render(request, "portal/governance/proposal.html", context, status=status)


# --- exceptions to a gate -------------------------------------------------------------------------


class GateExceptionForm(forms.Form):
    gate = forms.ChoiceField(label="Gate")
    justification = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Justification")
    expires_at = forms.DateTimeField(label="Expires at", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                     input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gate"].choices = sorted(
            ((k, g.label) for k, g in all_gates().items() if k != "approvals"), key=lambda c: c[1]
        ) + sorted((k, k) for k in governance.gate_exceptions.policy_gates() - set(all_gates()))


@login_required
@require_POST
def gate_exception_grant(request, name, number):
    version = get_object_or_404(ModelVersion.objects.select_related("model__use_case"), model__name=name, number=number)
    form = GateExceptionForm(request.POST)
    if form.is_valid():
        try:
            governance.gate_exceptions.gate_exception_grant(actor=request.user, version=version, **form.cleaned_data)
        except ServiceError as exc:
            messages.error(request, exc.message + " " + " ".join(m for v in exc.fields.values() for m in v))
            response = model_card(request, name, number)
            response.status_code = exc.status_code
            return response
        else:
            messages.success(request, f"Exception granted until {form.cleaned_data['expires_at']:%Y-%m-%d %H:%M}.")
    else:
        messages.error(request, "The exception is incomplete: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
    return redirect("portal:model-card", name=name, number=number)
