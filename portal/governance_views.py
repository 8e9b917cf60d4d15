"""The portal's governance pages around a version and its people: the model card with the
risk officers' exceptions to a gate, sign-off history on the model page, periodic reviews, and
proposals (four eyes on governance data). Classification and RACI are in
`classification_views.py`, the policy pages in `policy_views.py`.

Like `views.py`: read with bounded queries, write only through governance's services; the forms
(`governance_forms`) parse the input, and a refusal shows the service's `ServiceError.message`
with its `fields` next to the inputs they concern.
"""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

import governance.gate_exceptions
import governance.proposal_decisions
import governance.proposals
import governance.reviews
import governance.selectors
from core.errors import ServiceError
from governance import access, defaults
from governance.card import model_card_data
from governance.models import PromotionRequest, Review, SignOff
from registry.models import ModelVersion, Proposal

from .classification_views import choice_labels
from .governance_forms import DecisionForm, GateExceptionForm, ReviewForm, attach
from .paging import page_of

# Rows of sign-off history on a model page; older ones are in the audit trail and model cards.
HISTORY_LIMIT = 50


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
    return _model_card(request, version)


def _model_card(request, version, *, exception_form=None, status=200):
    card = model_card_data(version=version)
    if exception_form is None and access.can_grant_exception(request.user):
        exception_form = GateExceptionForm()
    context = {
        "section": "inventory",
        "model": version.model,
        "version": version,
        "card": card,
        "exception_form": exception_form,
        "tier_label": defaults.TIERS.get(card["use_case"]["tier"], ""),
        "markdown_url": reverse("api:version-card-md", args=[version.model.name, version.number]),
    }
    return render(request, "portal/governance/model_card.html", context, status=status)


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
    form = ReviewForm(request.POST)
    form.is_valid()  # a note is free text; whether one is needed is the service's rule
    try:
        governance.reviews.review_complete(actor=request.user, review=review, note=form.cleaned_data.get("note", ""))
    except ServiceError as exc:
        messages.error(request, " ".join([exc.message, *(m for ms in exc.fields.values() for m in ms)]))
        response = reviews(request)
        response.status_code = exc.status_code
        return response
    messages.success(request, f"Review of {review.version} recorded.")
    return redirect("portal:reviews")


# --- proposals: four eyes on governance data -----------------------------------------------------


def _proposal_details(proposal) -> list[tuple[str, str]]:
    """What the proposal would change, in people's words."""
    payload = proposal.payload
    if proposal.kind == Proposal.Kind.CLASSIFICATION:
        current = governance.selectors.classification_current(use_case=proposal.use_case)
        labels = choice_labels(governance.selectors.scheme_current().data)
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
                attach(form, exc)
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


@login_required
@require_POST
def gate_exception_grant(request, name, number):
    version = get_object_or_404(ModelVersion.objects.select_related("model__use_case"), model__name=name, number=number)
    form = GateExceptionForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            governance.gate_exceptions.gate_exception_grant(actor=request.user, version=version, **form.cleaned_data)
        except ServiceError as exc:
            messages.error(request, exc.message)
            attach(form, exc)
            status = exc.status_code
        else:
            messages.success(request, f"Exception granted until {form.cleaned_data['expires_at']:%Y-%m-%d %H:%M}.")
            return redirect("portal:model-card", name=name, number=number)
    # The card again, with the form as posted and its errors next to its fields.
    return _model_card(request, version, exception_form=form, status=status)
