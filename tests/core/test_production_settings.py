"""Production settings: `check --deploy` is clean, security headers are sent, the API is
throttled for scripts (per token) and anonymous callers."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from core.services import token_create

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_is_clean_in_production_settings(tmp_path):
    # Not the test run's own knobs (the browser tests allow async-unsafe ORM calls).
    dropped = ("DEBUG", "SECURE_COOKIES", "DJANGO_ALLOW_ASYNC_UNSAFE", "STATICFILES_STORAGE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env |= {  # what .env.example asks production to set
        "SECRET_KEY": secrets.token_urlsafe(50), "DEBUG": "false", "STEWARD_HTTPS": "true",
        "ALLOWED_HOSTS": "steward.example.com", "CSRF_TRUSTED_ORIGINS": "https://steward.example.com",
        "STEWARD_VAR_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/api/v1/", "/api/docs/"])
def test_security_headers(client, path):
    response = client.get(path)
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self';" in csp + ";"
    assert "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_api_docs_have_no_inline_script(client):
    body = client.get("/api/docs/").content.decode()
    assert "<script>" not in body and "<script src=" in body


@pytest.fixture
def tight_rates(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": "3/minute", "anon": "2/minute"}
    }


@pytest.mark.django_db
def test_token_traffic_is_throttled_per_token(cast, tight_rates):
    _, key = token_create(user=cast["dana"], actor=cast["dana"])
    _, other = token_create(user=cast["sam"], actor=cast["sam"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert [client.get("/api/v1/use-cases/").status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get("/api/v1/use-cases/")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert refused.json()["status"] == 429 and refused.json()["request_id"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {other}")
    assert client.get("/api/v1/use-cases/").status_code == 200  # another token, its own budget


@pytest.mark.django_db
def test_anonymous_traffic_is_throttled_and_people_in_the_portal_are_not(cast, tight_rates, client):
    anonymous = APIClient()
    assert [anonymous.get("/api/schema/").status_code for _ in range(2)] == [200, 200]
    assert anonymous.get("/api/schema/").status_code == 429
    client.force_login(cast["dana"])  # a session, as the portal's pages use
    assert {client.get("/api/v1/use-cases/").status_code for _ in range(6)} == {200}


@pytest.mark.django_db
def test_guessing_tokens_is_throttled_per_address(cast, tight_rates):
    guesser = APIClient()
    guesser.credentials(HTTP_AUTHORIZATION="Token stw_not-a-real-key")
    assert [guesser.get("/api/v1/use-cases/").status_code for _ in range(2)] == [401, 401]
    refused = guesser.get("/api/v1/use-cases/")
    assert refused.status_code == 429 and refused.json()["status"] == 429


class _Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _anonymous_request(address="203.0.113.9"):
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    request = RequestFactory().get("/api/schema/", REMOTE_ADDR=address)
    request.user = AnonymousUser()
    return request


def test_the_window_counter_refuses_the_request_over_the_limit_and_its_retry_after_is_honest(settings, monkeypatch):
    """4 a minute: the fifth request of a window is refused; waiting `wait()` seconds is enough
    and no less is; the previous window still counts at its share of the period."""
    from django.core.cache import cache

    from core.throttling import AnonRateThrottle

    cache.clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": None, "anon": "4/minute"}}
    clock = _Clock(6000.0)  # the start of a window (6000 = 100 × 60)
    monkeypatch.setattr(AnonRateThrottle, "timer", clock)
    request = _anonymous_request()

    def allowed() -> bool:
        throttle = AnonRateThrottle()
        ok = throttle.allow_request(request, None)
        allowed.last = throttle
        return ok

    for second in (0, 10, 20, 30):  # evenly spread over the first half of the window
        clock.now = 6000.0 + second
        assert allowed()
    clock.now = 6040.0
    assert not allowed()
    wait = allowed.last.wait()
    assert wait == pytest.approx(20, abs=0.01)  # this window is full: until the next one
    clock.now = 6040.0 + wait - 0.5
    assert not allowed()
    # A sixth of the way into the next window the previous one's 4 requests count as 3⅓: one more.
    clock.now = 6070.0
    assert allowed()
    assert not allowed()
    wait = allowed.last.wait()  # until 4·(1 − f) + 1 < 4, f > ¼: 5 s
    assert wait == pytest.approx(5, abs=0.01)
    clock.now = 6070.0 + wait - 0.5
    assert not allowed()
    clock.now = 6070.0 + wait
    assert allowed()
    assert AnonRateThrottle().allow_request(_anonymous_request("198.51.100.7"), None)  # its own budget


def test_a_web_process_freezes_its_loaded_code_out_of_the_garbage_collector():
    """portal/wsgi.py: what a web process loads (every view module through the URLconf) is out
    of the collector's sight before the first request, so a full collection walks only what
    requests allocated, not the ~200,000 objects of a loaded Django process."""
    import subprocess
    import sys

    from django.conf import settings as django_settings

    probe = ("import gc, sys; import portal.wsgi; "
             "print(gc.get_freeze_count(), len(gc.get_objects()), 'mlflow_api.views.versions' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=django_settings.BASE_DIR, capture_output=True, text=True,
                         check=True).stdout.split()
    frozen, tracked, views_loaded = int(out[0]), int(out[1]), out[2] == "True"
    assert views_loaded  # the URLconf was loaded, and with it the views
    assert frozen > 100_000 and tracked < frozen / 20


def test_a_rate_of_zero_refuses_every_request_with_a_retry_after(settings):
    from django.core.cache import cache

    from core.throttling import AnonRateThrottle

    cache.clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": None, "anon": "0/minute"}}
    throttle = AnonRateThrottle()
    assert not throttle.allow_request(_anonymous_request(), None)
    assert throttle.wait() >= 1
