"""The governance policy pages: the matrix in force (tiers × considerations, each cell's
measures and the gates that check them), its versions and their differences, and the risk
officers' edits of one cell or of the review intervals (each edit stores the next version).

Like `views.py`: read with bounded queries, write only through `governance.policy.policy_update`;
the forms (`governance_forms.PolicyCellForm`, `IntervalsForm`) parse the input and refuse a form
opened on an older version; the service decides what a valid policy is.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

import governance.policy
import governance.selectors
from core.errors import ServiceError
from governance import access, approvals, defaults
from governance.gates import all_gates
from governance.models import Policy

from .governance_forms import IntervalsForm, PolicyCellForm, attach
from .paging import page_of


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


@login_required
def policy_cell_edit(request, tier, consideration):
    """Edit the measures of one tier × consideration cell; saving stores the next policy version."""
    if str(tier) not in ("1", "2", "3", "4") or consideration not in defaults.CONSIDERATIONS:
        raise Http404("No such cell.")
    current = governance.selectors.policy_current()
    original = list(current.data.get("tiers", {}).get(str(tier), {}).get(consideration, []))
    problems, comment, rows, status = [], "", _cell_rows(original), 200
    if request.method == "POST":
        form = PolicyCellForm(request.POST, current=current)
        comment = form.data.get("comment", "").strip()  # shown again as typed
        status = 400
        if form.is_valid():
            measures = form.measures(original)
            data = {**current.data, "tiers": {**current.data.get("tiers", {})}}
            data["tiers"][str(tier)] = {**data["tiers"].get(str(tier), {}), consideration: measures}
            if not measures:
                data["tiers"][str(tier)].pop(consideration)
            try:
                policy = governance.policy.policy_update(
                    actor=request.user, data=data,
                    comment=form.cleaned_data["comment"] or f"Tier {tier} · {defaults.CONSIDERATIONS[consideration]}",
                )
            except ServiceError as exc:
                messages.error(request, exc.message)
                # The service's keys name the cell (`tiers.1.sign_off`), not an input: listed above it.
                attach(form, exc, rename=lambda key: None)
                rows, status = _cell_rows(measures), exc.status_code
            else:
                messages.success(request, f"Saved as policy version {policy.number}.")
                return redirect("portal:policies")
        else:
            rows = _cell_rows(original)
        problems = form.problems()
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
        "cell_errors": problems,
        "comment": comment,
        "can_edit": access.can_edit_policy(request.user),
    }
    return render(request, "portal/governance/policy_cell.html", context, status=status)


@login_required
def policy_intervals_edit(request):
    """Edit the review interval of each tier; saving stores the next policy version."""
    current = governance.selectors.policy_current()
    intervals = {t: str(current.data.get("review_interval_days", {}).get(str(t), "")) for t in sorted(defaults.TIERS)}
    problems, status = [], 200
    if request.method == "POST":
        form = IntervalsForm(request.POST, current=current)
        intervals = {t: form.data.get(f"days-{t}", "").strip() for t in sorted(defaults.TIERS)}  # as typed
        status = 400
        if form.is_valid():
            try:
                policy = governance.policy.policy_update(
                    actor=request.user, data={**current.data, "review_interval_days": form.days()},
                    comment=form.cleaned_data["comment"] or "Review intervals",
                )
            except ServiceError as exc:
                messages.error(request, exc.message)
                attach(form, exc, rename=lambda key: None)  # `review_interval_days`: all tiers at once
                status = exc.status_code
            else:
                messages.success(request, f"Saved as policy version {policy.number}.")
                return redirect("portal:policies")
        problems = [m for ms in form.errors.values() for m in ms]
    context = {
        "section": "policies",
        "policy": current,
        "intervals": [(t, defaults.TIERS[t], intervals[t]) for t in sorted(defaults.TIERS)],
        "errors": problems,
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

