"""Real Celery processes on the Redis broker and the test database: two workers share a check's
parts; beat queues a scheduled check."""

import os
import subprocess
import sys
import tempfile

import pytest

from monitoring.models import CheckPart, DriftCheck, FeatureDrift

from .conftest import ALL, W1, base_url, frame, to_csv

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _spawn(args, extra_env=None):
    from django.db import connection

    # This run's database and broker, PostgreSQL or the embedded default (as tests/conftest.py's
    # worker_env, which this package cannot import relatively).
    db = connection.settings_dict
    env = dict(os.environ)
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    env.update(extra_env or {})
    log = tempfile.NamedTemporaryFile("w", prefix="celery-", suffix=".log", delete=False)  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "portal", *args], env=env, stdout=log,
                            stderr=subprocess.STDOUT), log


def _stop(proc, log):
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def second_worker(celery_worker, wait_for):
    from portal.celery import app

    name = f"second-{os.getpid()}@%h"
    proc, log = _spawn(["worker", "--pool=threads", "--concurrency=1", "--loglevel=INFO", "-n", name,
                        "--without-gossip", "--without-mingle"])
    wait_for(lambda: len(app.control.ping(timeout=0.5)) >= 2, timeout=60)
    yield proc
    _stop(proc, log)


def _features(check):
    fields = ["feature", "method", "statistic", "p_value", "threshold", "drifted", "current_n"]
    return list(FeatureDrift.objects.filter(check_run=check).order_by("feature").values_list(*fields))


def test_two_workers_split_a_check_and_agree_with_one_part(second_worker, cast, api, upload, wait_for, inventory):
    from monitoring.services import monitor_configure

    version = inventory["version"]
    assert upload("dana", version, "reference", "r.csv", to_csv(frame(2000, seed=50))).status_code == 201
    assert upload("dana", version, "batches", "b.csv", to_csv(frame(4000, seed=51, shift=0.4, cat_shift=True)), **W1).status_code == 201
    monitor_configure(actor=cast["rita"], version=version, chunk_size=1)
    split_id = api("dana").post(base_url(version) + "checks/", ALL, format="json").json()["id"]
    split = wait_for(lambda: DriftCheck.objects.filter(pk=split_id, status="done").first(), timeout=120)
    monitor_configure(actor=cast["rita"], version=version, chunk_size=100)
    whole_id = api("dana").post(base_url(version) + "checks/", ALL, format="json").json()["id"]
    whole = wait_for(lambda: DriftCheck.objects.filter(pk=whole_id, status="done").first(), timeout=120)
    assert CheckPart.objects.filter(check_run=split).count() == 6
    assert all(CheckPart.objects.filter(check_run=split).values_list("worker", flat=True))  # each part ran in a worker
    assert _features(split) == _features(whole)
    assert (split.drift_status, split.drifted_features) == (whole.drift_status, whole.drifted_features) == ("drift", 3)


def test_beat_queues_a_scheduled_check_that_a_worker_runs(celery_worker, cast, upload, wait_for, inventory):
    from django.utils import timezone

    from monitoring.models import Monitor
    from monitoring.services import monitor_configure
    from registry.models import ModelVersion

    version = inventory["version"]
    upload("dana", version, "reference", "r.csv", to_csv(frame(1500, seed=52)))
    now = timezone.now()
    window = {"window_start": (now - timezone.timedelta(hours=3)).isoformat(), "window_end": (now - timezone.timedelta(hours=1)).isoformat()}
    assert upload("dana", version, "batches", "b.csv", to_csv(frame(1500, seed=53, shift=0.5)), **window).status_code == 201
    monitor_configure(actor=cast["dana"], version=version, schedule_minutes=60)
    Monitor.objects.filter(version=version).update(next_run_at=now - timezone.timedelta(minutes=1))
    ModelVersion.objects.filter(pk=version.pk).update(stage="production")
    with tempfile.TemporaryDirectory() as tmp:
        beat, log = _spawn(["beat", "--loglevel=INFO", "-s", os.path.join(tmp, "schedule")],
                           {"STEWARD_MONITORING_TICK": "1"})
        try:
            check = wait_for(lambda: DriftCheck.objects.filter(version=version, trigger="schedule", status="done").first(),
                             timeout=120)
        finally:
            _stop(beat, log)
    assert check.current_rows == 1500 and check.drifted_features == 2 and check.drift_status == "warning"
    assert Monitor.objects.get(version=version).next_run_at > now
