"""Shared fixtures: a fixed cast of users and API clients.

- dana: data scientist, owns the `credit` use case and its models
- sam: data scientist, owns nothing of dana's
- rita: risk officer
- audrey: auditor (read-only)
- root: admin
- nobody: signed in, no role
"""

import hashlib

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from core.roles import Role
from core.services import token_create

CAST = {
    "dana": Role.DATA_SCIENTIST,
    "sam": Role.DATA_SCIENTIST,
    "rita": Role.RISK_OFFICER,
    "omar": Role.RISK_OFFICER,
    "audrey": Role.AUDITOR,
    "root": Role.ADMIN,
    "nobody": None,
}
PASSWORD = "correct-horse-battery-42"


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """PBKDF2's deliberate slowness costs seconds per user; tests need no protection from it."""
    from django.test.utils import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in the cache; each test starts with none (ids repeat across tests)."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def make_user(db):
    def make(username, role=None):
        user = get_user_model().objects.create_user(username, f"{username}@example.com", PASSWORD)
        if role:
            # get_or_create: transactional tests flush the groups the migration made.
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        return user

    return make


@pytest.fixture
def cast(make_user):
    return {name: make_user(name, role) for name, role in CAST.items()}


@pytest.fixture
def api(cast):
    """`api("dana")` → an APIClient authenticated with a fresh token of that user."""
    clients = {}

    def client_for(username=None):
        if username is None:
            return APIClient()
        if username not in clients:
            _, key = token_create(user=cast[username], actor=cast[username], name="test")
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
            clients[username] = client
        return clients[username]

    return client_for


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def inventory(cast):
    """A use case, two datasets and a model with one version, all dana's, built via services."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from registry import services

    dana = cast["dana"]
    use_case = services.use_case_create(actor=dana, name="Credit limits", purpose="Limits", business_unit="Retail")
    accounts = services.dataset_create(actor=dana, name="accounts", version="1", source_uri="s3://a", sha256=sha(b"a"))
    bureau = services.dataset_create(
        actor=dana, name="bureau", version="1", source_uri="s3://b", sha256=sha(b"b"),
        contains_personal_data=True, legal_basis="contract",
    )
    model = services.model_create(actor=dana, name="credit-gbm", use_case=use_case, tags=["credit"])
    version = services.model_version_register(
        actor=dana, model=model, artifact=SimpleUploadedFile("m.bin", b"weights-1"),
        training_datasets=[accounts, bureau], code_commit="abc1234", metrics={"auc": 0.8},
    )
    return {"use_case": use_case, "datasets": [accounts, bureau], "model": model, "version": version}


@pytest.fixture
def wait_for():
    """Poll `probe()` until it returns something truthy (or fail after `timeout` seconds)."""
    import time

    def wait(probe, timeout=30.0, interval=0.1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = probe()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"condition not met within {timeout}s")

    return wait


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` need what only PostgreSQL has; on SQLite they are skipped."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="PostgreSQL only (this run is on SQLite)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def worker_env():
    """The environment of a worker process on this test run's database and broker."""
    import os

    from django.db import connection

    db = connection.settings_dict
    env = dict(os.environ)
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        )
    else:  # the test database file; the filesystem broker lives under the same STEWARD_VAR_DIR
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    # Mail the worker sends lands in files (settings.EMAIL_FILE_PATH) that tests can read.
    env["EMAIL_BACKEND"] = "django.core.mail.backends.filebased.EmailBackend"
    return env


def start_worker(name, *, pool="threads", queues=None, log_name="celery-worker.log", extra_env=None):
    """Start a real `celery worker` process and wait until it answers a ping."""
    import os
    import subprocess
    import sys
    import time

    from portal.celery import app

    env = worker_env() | (extra_env or {})
    log_path = os.path.join(os.environ.get("STEWARD_TEST_ARTIFACTS", "/tmp"), log_name)
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    log = open(log_path, "w")  # noqa: SIM115 - closed by stop_worker
    hostname = f"{name}-{os.getpid()}@%h"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", f"--pool={pool}", "--concurrency=2",
         "--loglevel=INFO", "-n", hostname, "--without-gossip", "--without-mingle",
         *(["-Q", queues] if queues else [])],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    proc.log, proc.log_path = log, log_path
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.close()
            raise RuntimeError(f"celery worker exited early; see {log_path}")
        replies = app.control.ping(destination=[hostname.replace("%h", _hostname())], timeout=0.5)
        if replies:
            return proc
    stop_worker(proc)
    raise RuntimeError(f"celery worker did not answer within 60 s; see {log_path}")


def _hostname():
    import socket

    return socket.gethostname()


def stop_worker(proc):
    import subprocess

    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    proc.log.close()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    """A real `celery worker` process on the test run's broker and test database.

    PostgreSQL runs use the Redis broker `scripts/test` starts; SQLite runs use the embedded
    default, the filesystem broker under STEWARD_VAR_DIR.
    """
    from django.conf import settings

    broker = settings.CELERY_BROKER_URL
    if not (broker.startswith("redis://") or broker.startswith("filesystem")):
        pytest.skip(f"worker tests need Redis or the filesystem broker, not {broker}")
    proc = start_worker("test", log_name="celery-worker-session.log")  # not overwritten by other tests' workers
    yield proc
    stop_worker(proc)


@pytest.fixture
def copy_statements(monkeypatch) -> list[str]:
    """The `COPY` statements psycopg is asked to run during the test, in order (PostgreSQL)."""
    import psycopg

    statements = []
    real = psycopg.Cursor.copy

    def spy(self, statement, *args, **kwargs):
        statements.append(str(statement))
        return real(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", spy)
    return statements
