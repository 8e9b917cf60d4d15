import hashlib
import hmac
import json
import urllib.error
import urllib.request

from celery import shared_task
from django.conf import settings

from core.jobs import beat_sweep

from .reviews import reviews_open_due


def sign(body: bytes, secret: str) -> str:
    """`sha256=<hex HMAC>` of the exact body, so receivers can verify origin and integrity."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookRefused(Exception):
    """The receiver answered 4xx: sending the same body again would be refused again."""


@shared_task(autoretry_for=(OSError,), max_retries=5, retry_backoff=True, retry_backoff_max=600, retry_jitter=True)
def webhook_send(payload: dict):
    """POST a signed JSON event to STEWARD_WEBHOOK_URL. Network errors, timeouts and 5xx answers
    (all `OSError`s from urllib) are retried by Celery with exponential backoff (jittered, at most
    10 minutes apart), five times at most; a 4xx answer (but 408 and 429) is not retried."""
    url = settings.STEWARD_WEBHOOK_URL
    if not url:
        return "skipped: no webhook configured"
    body = json.dumps(payload, sort_keys=True).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "X-Steward-Signature": sign(body, settings.STEWARD_WEBHOOK_SECRET),
    })
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - URL is operator-configured
            return response.status
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500 and exc.code not in (408, 429):
            raise WebhookRefused(f"{url} answered {exc.code}") from exc
        raise


@shared_task
def reviews_open_due_task(job_id: int | None = None):
    """Beat entry point: open the periodic reviews that fell due. Idempotent by the job claim and
    by the one-open-review-per-version constraint."""
    return beat_sweep(kind="reviews_open_due", job_id=job_id, run=reviews_open_due, key="opened",
                      done="review(s) opened")



