"""Tell people about governance work waiting for them: risk officers about proposals, approvers
about promotion requests, requesters about decisions; by e-mail and an optional signed webhook.

Called inside the transaction of the change, so a mail exists only if the change does: each mail
is a `mail` job (`core.services.mail_enqueue`) the worker sends after commit, and the webhook is
enqueued after commit. Neither a mail server nor a broker outage undoes or delays the change.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from core.roles import Role
from core.services import mail_enqueue
from registry.models import Proposal

from . import access
from .approvals import approver_candidates
from .models import PromotionRequest
from .tasks import webhook_send

logger = logging.getLogger(__name__)


def proposal_created(*, proposal: Proposal) -> None:
    """Tell the risk officers who may decide it (`access.can_decide_proposal`, which
    `proposals.proposals_pending` asks too) that a governance change waits for them."""
    url = f"{settings.STEWARD_BASE_URL.rstrip('/')}/governance/proposals/{proposal.pk}/"
    risk_officers = get_user_model().objects.filter(groups__name=Role.RISK_OFFICER, is_active=True).distinct()
    mail_enqueue(
        to=[u.email for u in risk_officers if u.email and access.can_decide_proposal(u, proposal)],
        subject=f"[Steward] To confirm: {proposal.summary} ({proposal.use_case.name})",
        body=(f"{proposal.proposed_by.get_username()} proposes: {proposal.summary} for "
              f"{proposal.model or proposal.use_case}. Until a risk officer confirms, nothing changes.\n\n{url}\n"),
        actor=proposal.proposed_by, obj=proposal,
    )


def promotion_links(promotion) -> tuple[str, str]:
    """(page for people, API resource for scripts). The portal owns the page; its path is a
    setting so governance does not depend on the portal's URLs."""
    base = settings.STEWARD_BASE_URL.rstrip("/")
    page = base + settings.STEWARD_PROMOTION_PAGE_PATH.format(id=promotion.pk)
    return page, f"{base}/api/v1/promotions/{promotion.pk}/"


def promotion_requested(*, promotion: PromotionRequest) -> None:
    """Tell everyone who could fill one of the move's open approval slots."""
    version = promotion.version
    url, api_url = promotion_links(promotion)
    mail_enqueue(
        to=[u.email for u in approver_candidates(promotion)],
        subject=f"[Steward] Sign-off requested: {version.model.name} v{version.number} → {promotion.target_stage}",
        body=(f"{promotion.requester.get_username()} asks to move {version.model.name} v{version.number} "
              f"from {promotion.from_stage} to {promotion.target_stage} (tier {promotion.tier}, "
              f"policy v{promotion.policy.number}).\n\n{url}\n"),
        actor=promotion.requester, obj=promotion,
    )
    _webhook("promotion.requested", promotion, url, api_url)


def promotion_decided(*, promotion: PromotionRequest) -> None:
    """Tell the requester their request was promoted or rejected."""
    version = promotion.version
    url, api_url = promotion_links(promotion)
    last = promotion.signoffs.select_related("approver").order_by("-created_at", "-pk").first()
    body = f"Your request #{promotion.pk} is {promotion.status}"
    if last:
        body += f" (last sign-off by {last.approver.get_username()}: {last.comment or 'no comment'})"
    mail_enqueue(
        to=[promotion.requester.email],
        subject=f"[Steward] {version.model.name} v{version.number} → {promotion.target_stage}: {promotion.status}",
        body=body + f".\n\n{url}\n", obj=promotion,
    )
    _webhook(f"promotion.{promotion.status}", promotion, url, api_url)


def _webhook(event: str, promotion, url: str, api_url: str) -> None:
    if not getattr(settings, "STEWARD_WEBHOOK_URL", ""):
        return
    version = promotion.version
    payload = {
        "event": event, "promotion": promotion.pk, "model": version.model.name,
        "version": version.number, "from_stage": promotion.from_stage, "target_stage": promotion.target_stage,
        "requester": promotion.requester.get_username(), "url": url, "api_url": api_url,
    }

    def send():
        try:
            webhook_send.delay(payload)
        except Exception:  # noqa: BLE001 - the change stands; the broker outage is logged
            logger.exception("could not enqueue webhook for promotion %s", promotion.pk)

    transaction.on_commit(send)
