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


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    """A real `celery worker` process on the test run's broker and test database."""
    import os
    import subprocess
    import sys
    import time

    from django.conf import settings
    from django.db import connection

    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("worker tests need the Redis broker that scripts/test starts")
    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    log_path = os.path.join(os.environ.get("STEWARD_TEST_ARTIFACTS", "/tmp"), "celery-worker.log")
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    log = open(log_path, "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=threads", "--concurrency=2",
         "--loglevel=INFO", "-n", f"test-{os.getpid()}@%h", "--without-gossip", "--without-mingle"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    from portal.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited early; see {log_path}")
        replies = app.control.ping(timeout=0.5)
        if replies:
            break
    else:
        proc.terminate()
        raise RuntimeError(f"celery worker did not answer within 60 s; see {log_path}")
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
