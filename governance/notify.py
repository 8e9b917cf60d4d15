"""Tell approvers about new promotion requests: e-mail (Django mail) and an optional signed webhook.

Runs after commit; a mail or broker failure is logged and never undoes the request.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import Q

from core.roles import Role

logger = logging.getLogger(__name__)


def approver_candidates(promotion) -> list:
    """People the policy (by role) or the RACI (A/R of the move's task) names, minus the
    requester and the version's creator who may never approve."""
    from . import defaults
    from .services import _measures, raci_for

    roles = {m["params"].get("role", "any") for m in _measures(promotion) if m["gate"] == "approvals"}
    if "any" in roles:
        roles |= {Role.DATA_SCIENTIST, Role.RISK_OFFICER}
    raci = raci_for(use_case=promotion.version.model.use_case)
    ids = raci.people_for(defaults.STAGE_TASK[promotion.target_stage], {"A", "R"})
    users = get_user_model().objects.filter(Q(groups__name__in=roles) | Q(pk__in=ids), is_active=True).distinct()
    return [u for u in users.exclude(pk__in=[promotion.requester_id, promotion.version.created_by_id])]


def promotion_links(promotion) -> tuple[str, str]:
    """(page for people, API resource for scripts). The portal owns the page; its path is a
    setting so governance does not depend on the portal's URLs."""
    base = settings.STEWARD_BASE_URL.rstrip("/")
    page = base + settings.STEWARD_PROMOTION_PAGE_PATH.format(id=promotion.pk)
    return page, f"{base}/api/v1/promotions/{promotion.pk}/"


def promotion_requested(*, promotion_id: int) -> None:
    from .models import PromotionRequest

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
    from .tasks import webhook_send

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
    from .models import PromotionRequest

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
