import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Conflict, Forbidden, InvalidInput
from governance.models import Review
from governance.promotions import promotion_reject, promotion_request
from governance.reviews import review_complete, reviews_open_due
from governance.tasks import sign


def test_due_review_is_opened_once(tier1, cast, advance):
    version = advance(tier1["version"], "production")
    today = timezone.localdate()
    assert reviews_open_due(today=today) == []  # tier 1: yearly
    later = today + timedelta(days=366)
    opened = reviews_open_due(today=later)
    assert [r.version_id for r in opened] == [version.pk]
    assert opened[0].due_date == today + timedelta(days=365)
    assert reviews_open_due(today=later) == []
    assert Review.objects.count() == 1


def test_completing_a_review_restarts_the_interval(tier1, cast, advance):
    advance(tier1["version"], "production")
    review = reviews_open_due(today=timezone.localdate() + timedelta(days=400))[0]
    with pytest.raises(Forbidden):
        review_complete(actor=cast["dana"], review=review, note="fine")
    with pytest.raises(InvalidInput):
        review_complete(actor=cast["rita"], review=review, note=" ")
    review_complete(actor=cast["rita"], review=review, note="Still performing")
    with pytest.raises(Conflict):
        review_complete(actor=cast["rita"], review=review, note="again")
    assert reviews_open_due(today=timezone.localdate() + timedelta(days=364)) == []


def test_overdue_filter(api, tier1, cast, advance):
    advance(tier1["version"], "production")
    reviews_open_due(today=timezone.localdate() + timedelta(days=400))
    body = api("rita").get("/api/v1/reviews/?overdue=true").json()
    assert body["count"] == 0  # opened ahead of its due date (a year from now): not overdue
    Review.objects.update(due_date=timezone.localdate() - timedelta(days=1))
    body = api("rita").get("/api/v1/reviews/?overdue=true").json()
    assert body["count"] == 1 and body["results"][0]["overdue"] is True and body["results"][0]["model"] == "credit-gbm"


def test_approvers_are_mailed_by_the_worker_but_not_the_requester(tier1, cast, worker_mail):
    with worker_mail() as sent:
        promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="qa")
    assert len(sent) == 1
    recipients = set(sent[0].to)
    assert {"rita@example.com", "omar@example.com", "sam@example.com"} <= recipients
    assert "dana@example.com" not in recipients and "audrey@example.com" not in recipients
    assert "credit-gbm v1" in sent[0].subject


def test_a_request_rolled_back_after_the_service_mails_nobody(tier1, cast, django_capture_on_commit_callbacks):
    from django.db import transaction

    from core.models import BackgroundJob
    from governance.models import PromotionRequest

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="qa")
            assert BackgroundJob.objects.filter(kind="mail").count() == 1  # queued with the request
            raise RuntimeError("the request fails after the service ran")
    assert callbacks == [] and not PromotionRequest.objects.exists()
    assert not BackgroundJob.objects.filter(kind="mail").exists()


def test_webhook_is_enqueued_when_configured(tier1, cast, settings, django_capture_on_commit_callbacks, monkeypatch):
    settings.STEWARD_WEBHOOK_URL = "https://hooks.example.com/steward"
    sent = []
    from governance import tasks

    monkeypatch.setattr(tasks.webhook_send, "delay", lambda payload: sent.append(payload))
    with django_capture_on_commit_callbacks(execute=True):
        p = promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="qa")
    assert sent == [{
        "event": "promotion.requested", "promotion": p.pk, "model": "credit-gbm", "version": 1,
        "from_stage": "development", "target_stage": "qa", "requester": "dana",
        "url": f"{settings.STEWARD_BASE_URL}/promotions/{p.pk}/",
        "api_url": f"{settings.STEWARD_BASE_URL}/api/v1/promotions/{p.pk}/",
    }]


def test_webhook_signature_is_hmac_sha256_of_body():
    body = json.dumps({"a": 1}).encode()
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert sign(body, "s3cret") == f"sha256={expected}"
    assert sign(body, "other") != sign(body, "s3cret")


def test_the_beat_entry_opens_a_due_review(tier1, cast, advance, settings):
    """The scheduled task, looked up by the name beat sends, opens a review for a production
    version whose interval ran out (none before, none twice), and beat sends it at least daily."""
    from celery.schedules import crontab

    from core.models import BackgroundJob
    from portal.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["governance-open-due-reviews"]
    task = app.tasks[entry["task"]]
    assert isinstance(entry["schedule"], crontab) and len(entry["schedule"].hour) >= 1
    version = advance(tier1["version"], "production")
    assert task.apply().get() == 0  # tier 1 is reviewed yearly: not due yet
    version.promotions.filter(status="promoted", target_stage="production").update(
        decided_at=timezone.now() - timedelta(days=366)
    )
    assert task.apply().get() == 1
    assert task.apply().get() == 0  # already open
    review = Review.objects.get()
    assert (review.version, review.status) == (version, Review.Status.OPEN)
    assert review.due_date == timezone.localdate() - timedelta(days=1)
    assert list(BackgroundJob.objects.filter(kind="reviews_open_due").values_list("status", flat=True)) == ["succeeded"] * 3


def test_review_task_claims_its_job_and_is_harmless_twice(tier1, cast, advance):
    from core.models import BackgroundJob
    from core.services import job_create
    from governance.tasks import reviews_open_due_task

    version = advance(tier1["version"], "production")
    # Pretend the version entered production long ago.
    version.promotions.filter(status="promoted", target_stage="production").update(
        decided_at=timezone.now() - timedelta(days=400)
    )
    job = job_create(kind="reviews_open_due")
    assert reviews_open_due_task(job.pk) == 1
    assert reviews_open_due_task(job.pk) == "skipped"
    assert reviews_open_due_task() == 0  # a fresh beat run finds the review already open
    job.refresh_from_db()
    assert job.status == BackgroundJob.Status.SUCCEEDED and len(job.result["opened"]) == 1
    assert Review.objects.get().version == version


def test_requester_is_told_of_the_decision(tier1, cast, worker_mail):
    p = promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="qa")
    with worker_mail() as sent:
        promotion_reject(promotion=p, actor=cast["rita"], comment="Needs a bias report")
    assert [m.to for m in sent] == [["dana@example.com"]]
    assert "rejected" in sent[0].subject and "Needs a bias report" in sent[0].body


@pytest.fixture
def hook(settings):
    """A local webhook receiver answering the statuses in `hook.answers` in turn (then 204)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received, answers = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["X-Steward-Signature"], body))
            self.send_response(answers.pop(0) if answers else 204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.STEWARD_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hook"
    settings.STEWARD_WEBHOOK_SECRET = "s3cret"
    yield type("Hook", (), {"received": received, "answers": answers})
    server.shutdown()
    server.server_close()


def test_webhook_task_posts_signed_body(hook):
    from governance.tasks import webhook_send

    assert webhook_send.apply(args=[{"event": "promotion.requested", "promotion": 1}]).get() == 204
    signature, body = hook.received[0]
    assert json.loads(body) == {"event": "promotion.requested", "promotion": 1}
    assert signature == sign(body, "s3cret")


def test_webhook_retries_a_receiver_that_is_down_and_gives_up_after_five_retries(hook):
    """Celery's autoretry: a 503 is sent again (eagerly here, with backoff on a worker), and the
    sixth failure is final; a 404 is not retried at all."""
    from governance.tasks import WebhookRefused, webhook_send

    hook.answers.extend([503, 502])
    assert webhook_send.apply(args=[{"event": "x"}]).get() == 204
    assert len(hook.received) == 3
    assert (webhook_send.retry_backoff, webhook_send.retry_backoff_max, webhook_send.max_retries) == (True, 600, 5)

    hook.received.clear()
    hook.answers.extend([503] * 10)
    with pytest.raises(OSError):  # the last HTTPError, as Celery re-raises it
        webhook_send.apply(args=[{"event": "x"}]).get()
    assert len(hook.received) == 6

    hook.received.clear()
    hook.answers[:] = [404]
    with pytest.raises(WebhookRefused):
        webhook_send.apply(args=[{"event": "x"}]).get()
    assert len(hook.received) == 1
