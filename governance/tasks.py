import hashlib
import hmac
import json
import urllib.request

from celery import shared_task
from django.conf import settings

from core.jobs import beat_sweep

from .reviews import reviews_open_due


def sign(body: bytes, secret: str) -> str:
    """`sha256=<hex HMAC>` of the exact body, so receivers can verify origin and integrity."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@shared_task(bind=True, max_retries=5, retry_backoff=True, retry_backoff_max=600, retry_jitter=True)
def webhook_send(self, payload: dict):
    """POST a signed JSON event to STEWARD_WEBHOOK_URL; retried with backoff, five times at most."""
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
    except Exception as exc:
        raise self.retry(exc=exc) from exc


@shared_task
def reviews_open_due_task(job_id: int | None = None):
    """Beat entry point: open the periodic reviews that fell due. Idempotent by the job claim and
    by the one-open-review-per-version constraint."""
    return beat_sweep(kind="reviews_open_due", job_id=job_id, run=reviews_open_due, key="opened",
                      done="review(s) opened")



