"""The dashboard's "needs my attention" list, built from small providers.

A provider takes the signed-in user and returns items (plain dicts made by `item`): nothing for
people it does not concern. The list is every provider's items, most urgent first. To plug in a
selector from another app, add one line to `PROVIDERS`, e.g.::

    from_selector("alert", "Alert", monitoring.selectors.open_alerts),
    from_selector("proposal", "To confirm", governance.selectors.proposals_pending),

`from_selector` reads each object's `str()`, its URL (`get_absolute_url()` or `url`) and its age
(`created_at`), and `due_date`/`due_at` when it has one.
"""

from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.urls import reverse
from django.utils import timezone

from core.roles import Role, has_role
from governance import access as governance_access
from governance.models import PromotionRequest, Review
from governance.proposals import proposals_pending
from monitoring.selectors import open_alerts
from privacy.selectors import obligations_to_act

from . import labels

WAITED_TOO_LONG = timedelta(days=7)
LIMIT_PER_PROVIDER = 10


def item(*, kind: str, badge: str, text: str, url: str, since: datetime | None = None, due: date | None = None) -> dict:
    now = timezone.now()
    today = timezone.localdate()
    age = (now - since) if since else None
    overdue = bool(due and due < today) or bool(age and age > WAITED_TOO_LONG and not due)
    return {
        "kind": kind, "badge": badge, "text": text, "url": url, "since": since, "age_days": age.days if age else None,
        "due": due, "overdue": overdue,
        # Overdue first, then by due date, then the oldest.
        "sort": (not overdue, due or date.max, since or now),
    }


def signoffs_waiting(user) -> list[dict]:
    """Active promotions this person's approval would count on: the inbox that
    `governance.approvals` decides (the same function signing asks), with their due dates."""
    if not has_role(user, Role.DATA_SCIENTIST, Role.RISK_OFFICER, Role.ADMIN):
        return []
    from .signoff_views import inbox

    return [
        item(kind="signoff", badge="Sign-off",
             text=f"{p.version.model.name} v{p.version.number} → {labels.stage_label(p.target_stage)}, asked by {p.requester.username}",
             url=reverse("portal:promotion", args=[p.pk]), since=p.created_at, due=timezone.localdate(p.due))
        for p in inbox(user)[:LIMIT_PER_PROVIDER]
    ]


def proposals_to_confirm(user) -> list[dict]:
    """Governance changes (classification, RACI approvers, a model's use case) this risk officer
    may confirm: `governance.proposals.proposals_pending` decides."""
    return [
        item(kind="proposal", badge="To confirm", text=str(p), url=reverse("portal:proposal", args=[p.pk]),
             since=p.created_at)
        for p in proposals_pending(user=user)[:LIMIT_PER_PROVIDER]
    ]


def overdue_reviews(user) -> list[dict]:
    if not governance_access.can_review(user):
        return []
    reviews = Review.objects.filter(status=Review.Status.OPEN, due_date__lt=timezone.localdate()).select_related(
        "version__model"
    ).order_by("due_date", "pk")[:LIMIT_PER_PROVIDER]
    return [
        item(kind="review", badge="Review", text=f"Periodic review of {r.version}", url=reverse("portal:reviews"), due=r.due_date)
        for r in reviews
    ]


def my_requests_waiting(user) -> list[dict]:
    """The person's own open requests: waiting for sign-off, or approved with gates still missing."""
    requests = PromotionRequest.objects.filter(requester=user, status__in=PromotionRequest.ACTIVE).select_related(
        "version__model"
    ).order_by("created_at", "pk")[:LIMIT_PER_PROVIDER]
    return [
        item(kind="request", badge="My request",
             text=f"{p.version.model.name} v{p.version.number} → {labels.stage_label(p.target_stage)}: {p.get_status_display().lower()}",
             url=reverse("portal:promotion", args=[p.pk]), since=p.created_at)
        for p in requests
    ]


def from_selector(kind: str, badge: str, selector: Callable) -> Callable:
    """A provider over another app's selector `selector(user) -> iterable of objects`."""

    def provider(user) -> list[dict]:
        items = []
        for obj in list(selector(user))[:LIMIT_PER_PROVIDER]:
            url = obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else getattr(obj, "url", "")
            due = getattr(obj, "due_date", None) or getattr(obj, "due_at", None)
            if isinstance(due, datetime):
                due = timezone.localdate(due)
            items.append(item(kind=kind, badge=badge, text=str(obj), url=url, since=getattr(obj, "created_at", None), due=due))
        return items

    provider.__name__ = f"{kind}_provider"
    return provider


PROVIDERS: list[Callable] = [
    signoffs_waiting,
    proposals_to_confirm,
    from_selector("alert", "Alert", open_alerts),
    overdue_reviews,
    my_requests_waiting,
    from_selector("obligation", "Data-subject obligation", obligations_to_act),
]


def attention_for(user) -> list[dict]:
    items = [entry for provider in PROVIDERS for entry in provider(user)]
    return sorted(items, key=lambda entry: entry["sort"])
