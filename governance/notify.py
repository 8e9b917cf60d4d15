"""Tell approvers about new promotion requests: e-mail (Django mail) and an optional signed webhook.

Runs after commit; a mail or broker failure is logged and never undoes the request.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail

from core.roles import Role
from registry.models import Proposal

from . import access
from .approvals import approver_candidates
from .models import PromotionRequest
from .tasks import webhook_send

logger = logging.getLogger(__name__)


def proposal_created(*, proposal_id: int) -> None:
    """Tell the risk officers who may decide it (`access.can_decide_proposal`, which
    `proposals.proposals_pending` asks too) that a governance change waits for them."""
    proposal = Proposal.objects.select_related("use_case__owner", "model__owner", "target_use_case__owner",
                                               "proposed_by").get(pk=proposal_id)
    if proposal.status != Proposal.Status.PENDING:
        return
    base = settings.STEWARD_BASE_URL.rstrip("/")
    url = f"{base}/governance/proposals/{proposal.pk}/"
    risk_officers = get_user_model().objects.filter(groups__name=Role.RISK_OFFICER, is_active=True).distinct()
    recipients = [u.email for u in risk_officers if u.email and access.can_decide_proposal(u, proposal)]
    if recipients:
        subject = f"[Steward] To confirm: {proposal.summary} ({proposal.use_case.name})"
        body = (f"{proposal.proposed_by.get_username()} proposes: {proposal.summary} for "
                f"{proposal.model or proposal.use_case}. Until a risk officer confirms, nothing changes.\n\n{url}\n")
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
        except Exception:  # noqa: BLE001 - the proposal stands; the mail is a courtesy
            logger.exception("could not mail risk officers about proposal %s", proposal.pk)


def promotion_links(promotion) -> tuple[str, str]:
    """(page for people, API resource for scripts). The portal owns the page; its path is a
    setting so governance does not depend on the portal's URLs."""
    base = settings.STEWARD_BASE_URL.rstrip("/")
    page = base + settings.STEWARD_PROMOTION_PAGE_PATH.format(id=promotion.pk)
    return page, f"{base}/api/v1/promotions/{promotion.pk}/"


def promotion_requested(*, promotion_id: int) -> None:
    promotion = PromotionRequest.objects.select_related("version__model__use_case", "requester", "policy").get(pk=promotion_id)
    version = promotion.version
    subject = f"[Steward] Sign-off requested: {version.model.name} v{version.number} → {promotion.target_stage}"
    url, api_url = promotion_links(promotion)
    body = (
        f"{promotion.requester.get_username()} asks to move {version.model.name} v{version.number} "
        f"from {promotion.from_stage} to {promotion.target_stage} (tier {promotion.tier}, policy v{promotion.policy.number}).\n\n{url}\n"
    )
    recipients = [u.email for u in approver_candidates(promotion) if u.email]
    if recipients:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
        except Exception:  # noqa: BLE001 - the request stands; the mail is a courtesy
            logger.exception("could not mail approvers of promotion %s", promotion.pk)
    _webhook("promotion.requested", promotion, url, api_url)


def _webhook(event: str, promotion, url: str, api_url: str) -> None:
    if not getattr(settings, "STEWARD_WEBHOOK_URL", ""):
        return
    version = promotion.version
    payload = {
        "event": event, "promotion": promotion.pk, "model": version.model.name,
        "version": version.number, "from_stage": promotion.from_stage, "target_stage": promotion.target_stage,
        "requester": promotion.requester.get_username(), "url": url, "api_url": api_url,
    }
    try:
        webhook_send.delay(payload)
    except Exception:  # noqa: BLE001 - the change stands; the broker outage is logged
        logger.exception("could not enqueue webhook for promotion %s", promotion.pk)


def promotion_decided(*, promotion_id: int) -> None:
    """Tell the requester their request was promoted or rejected."""
    promotion = PromotionRequest.objects.select_related("version__model", "requester").get(pk=promotion_id)
    version = promotion.version
    url, api_url = promotion_links(promotion)
    subject = f"[Steward] {version.model.name} v{version.number} → {promotion.target_stage}: {promotion.status}"
    last = promotion.signoffs.select_related("approver").order_by("-created_at", "-pk").first()
    body = f"Your request #{promotion.pk} is {promotion.status}"
    if last:
        body += f" (last sign-off by {last.approver.get_username()}: {last.comment or 'no comment'})"
    body += f".\n\n{url}\n"
    if promotion.requester.email:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [promotion.requester.email])
        except Exception:  # noqa: BLE001 - a courtesy; the decision stands
            logger.exception("could not mail requester of promotion %s", promotion.pk)
    _webhook(f"promotion.{promotion.status}", promotion, url, api_url)
