import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.core import mail
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


def test_approvers_are_mailed_but_not_the_requester(tier1, cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="qa")
    assert len(mail.outbox) == 1
    recipients = set(mail.outbox[0].to)
    assert {"rita@example.com", "omar@example.com", "sam@example.com"} <= recipients
    assert "dana@example.com" not in recipients and "audrey@example.com" not in recipients
    assert "credit-gbm v1" in mail.outbox[0].subject


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


def test_beat_runs_the_review_task(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["governance-open-due-reviews"]
    assert entry["task"] == "governance.tasks.reviews_open_due_task"


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


def test_requester_is_told_of_the_decision(tier1, cast, django_capture_on_commit_callbacks):
    p = promotion_request(actor=cast["dana"], version=tier1["version"], target_stage="qa")
    with django_capture_on_commit_callbacks(execute=True):
        promotion_reject(promotion=p, actor=cast["rita"], comment="Needs a bias report")
    assert [m.to for m in mail.outbox] == [["dana@example.com"]]
    assert "rejected" in mail.outbox[0].subject and "Needs a bias report" in mail.outbox[0].body


def test_webhook_task_posts_signed_body(settings):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from governance.tasks import webhook_send

    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["X-Steward-Signature"], body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    settings.STEWARD_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hook"
    settings.STEWARD_WEBHOOK_SECRET = "s3cret"
    try:
        assert webhook_send.apply(args=[{"event": "promotion.requested", "promotion": 1}]).get() == 204
    finally:
        thread.join(timeout=5)
        server.server_close()
    signature, body = received[0]
    assert json.loads(body) == {"event": "promotion.requested", "promotion": 1}
    assert signature == sign(body, "s3cret")
