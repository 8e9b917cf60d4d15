"""Sign-offs: the inbox of promotions a person's approval would count on, their own requests,
and the promotion page where approvers approve or reject (an approval that would promote is
confirmed first). Writes go through governance's services (`governance.promotions`) only; `governance.approvals` says who
may sign, and the page shows the buttons only to them — the service still decides.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

import governance.checklist
import governance.promotions
import governance.proposals
from core.errors import ServiceError
from governance import approvals
from governance.models import PromotionRequest, SignOff

from .governance_forms import SignOffForm
from .paging import page_of, querystring_without_page


def _awaiting_signoff(user):
    """Active promotions this person might sign: not their own request or version, not yet signed
    by them. Whether the policy or RACI names them is decided by the service when they act."""
    return (
        PromotionRequest.objects.filter(status__in=PromotionRequest.ACTIVE)
        .exclude(requester=user)
        .exclude(version__created_by=user)
        .exclude(signoffs__approver=user)
        .select_related("version__model", "requester")
        .order_by("created_at", "pk")
    )


def inbox(user) -> list[PromotionRequest]:
    """Active promotions this person's approval would count on (governance.approvals decides;
    the rows carry what the checks need, so no query runs per row), oldest first, with age,
    due date and whether it is overdue."""
    candidates = (
        _awaiting_signoff(user)
        .select_related("version__model__use_case__raci", "policy")
        .prefetch_related(Prefetch("signoffs", queryset=SignOff.objects.order_by("created_at", "pk")))
    )
    now = timezone.now()
    rows = []
    for promotion in candidates:
        if not approvals.may_approve(promotion, user)[0]:
            continue
        promotion.due = governance.checklist.promotion_due(promotion)
        promotion.overdue = promotion.due < now
        promotion.age_days = (now - promotion.created_at).days
        rows.append(promotion)
    return rows


@login_required
def signoffs(request):
    mine = PromotionRequest.objects.filter(requester=request.user).select_related("version__model").order_by("-created_at", "-pk")
    context = {
        "section": "signoffs",
        "page": page_of(request, inbox(request.user)),
        "querystring": querystring_without_page(request),
        "mine": mine[:20],
        "proposals_waiting": governance.proposals.proposals_pending(user=request.user).count(),
    }
    return render(request, "portal/signoffs.html", context)


def _promotion_or_404(pk):
    return get_object_or_404(
        PromotionRequest.objects.select_related("version__model__use_case", "version__created_by", "requester", "policy")
        .prefetch_related(Prefetch("signoffs", queryset=SignOff.objects.select_related("approver").order_by("created_at", "pk"))),
        pk=pk,
    )


@login_required
def promotion_detail(request, pk):
    """The sign-off page: gates, who fills each remaining approval slot, and Approve / Reject
    shown only to people the service would accept. An approval that would promote is confirmed
    first, saying what it moves and archives."""
    promotion = _promotion_or_404(pk)
    consequence, status = None, 200
    form = SignOffForm(request.POST) if request.method == "POST" else None
    if form is not None:
        if not form.is_valid():  # no decision chosen: the page as it was
            return redirect("portal:promotion", pk=promotion.pk)
        decision, comment = form.cleaned_data["decision"], form.cleaned_data["comment"].strip()
        try:
            if decision == "approve":
                consequence = governance.checklist.approval_consequence(promotion=promotion, user=request.user)
                if consequence is None or form.cleaned_data["confirmed"]:
                    governance.promotions.signoff_approve(promotion=promotion, actor=request.user, comment=comment)
                    messages.success(request, "Your approval is recorded." + (f" {consequence[5:]}" if consequence else ""))
                    return redirect("portal:promotion", pk=promotion.pk)
            else:
                governance.promotions.promotion_reject(promotion=promotion, actor=request.user, comment=comment)
                messages.success(request, "The request is rejected.")
                return redirect("portal:promotion", pk=promotion.pk)
        except ServiceError as exc:
            # The page again, with the refusal, answering the refusal's status (403, 409…).
            messages.error(request, " ".join([exc.message, *(m for ms in exc.fields.values() for m in ms)]))
            promotion, consequence, status = _promotion_or_404(pk), None, exc.status_code
    active = promotion.status in PromotionRequest.ACTIVE
    may_approve, approve_reason, _ = approvals.may_approve(promotion, request.user) if active else (False, "", set())
    may_reject = approvals.may_reject(promotion, request.user)[0] if active else False
    due = governance.checklist.promotion_due(promotion)
    context = {
        "section": "signoffs",
        "promotion": promotion,
        "version": promotion.version,
        "checklist": governance.checklist.promotion_checklist(promotion=promotion),
        "slots": approvals.slots(promotion, with_candidates=active),
        "active": active,
        "may_approve": may_approve,
        "may_reject": may_reject,
        "why_not": approve_reason if active and not may_approve else "",
        "signed": any(s.approver_id == request.user.pk for s in promotion.signoffs.all()),
        "due": due,
        "overdue": active and due < timezone.now(),
        "age_days": (timezone.now() - promotion.created_at).days,
        "consequence": consequence or (governance.checklist.approval_consequence(promotion=promotion, user=request.user)
                                       if may_approve else None),
        "confirming": consequence is not None and status == 200,
        "comment": form.cleaned_data["comment"] if form is not None else "",
    }
    return render(request, "portal/promotion_detail.html", context, status=status)
