"""The database going away: the API answers JSON 503 with Retry-After, and recovers by itself.

- `test_unreachable_database_answers_503_then_recovers` points the connection at a closed port
  (a real connection failure, not a mock) and back.
- `test_restart_under_write_load_loses_no_acknowledged_write` restarts the test run's own
  PostgreSQL (`pg_ctl restart`) while writers post through a live server: every 201 is stored,
  every other answer is a JSON 503 with Retry-After, and writes resume. It only runs against the
  throwaway server `scripts/test` starts (a data directory under /tmp/steward-test.*) or when
  STEWARD_ALLOW_DB_RESTART=1, and writes its figures to test-artifacts/fault-db-restart.json.
"""

import glob
import json
import os
import pwd
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, connections

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_database_answers_503_then_recovers(api, cast, settings):
    client = api("dana")
    assert client.get("/api/v1/models/").status_code == 200
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(_closed_port())
    try:
        response = client.get("/api/v1/models/")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port
    assert response.status_code == 503, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "unavailable"
    assert response["Retry-After"] == str(settings.STEWARD_API_RETRY_AFTER)
    assert client.get("/api/v1/models/").status_code == 200


def _server():
    """(pg_ctl, data directory, owner) of the test database's server, or a reason to skip."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('data_directory')")
        data_dir = cursor.fetchone()[0]
    allowed = "/steward-test." in data_dir or os.environ.get("STEWARD_ALLOW_DB_RESTART") == "1"
    if not allowed:
        return None, f"{data_dir} is not a throwaway test server (set STEWARD_ALLOW_DB_RESTART=1)"
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")) or sorted(glob.glob("/usr/*/bin/pg_ctl"))
    if not candidates or not os.access(data_dir, os.F_OK):
        return None, "pg_ctl or the data directory is not reachable from here"
    owner = pwd.getpwuid(os.stat(data_dir).st_uid).pw_name
    return (candidates[-1], data_dir, owner), ""


def _restart(pg_ctl, data_dir, owner):
    log = str(Path(data_dir).parent / "pg-restart.log")
    command = [pg_ctl, "-D", data_dir, "-m", "fast", "-w", "-t", "60", "-l", log, "restart"]
    if os.getuid() == 0 and owner != "root":
        command = ["runuser", "-u", owner, "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=90)


def test_restart_under_write_load_loses_no_acknowledged_write(live_server, cast):
    import requests

    from core.services import token_create
    from registry.models import UseCase

    server, reason = _server()
    if server is None:
        pytest.skip(reason)
    _, key = token_create(user=cast["dana"], actor=cast["dana"], name="load")
    url = f"{live_server.url}/api/v1/use-cases/"
    stop = threading.Event()
    lock = threading.Lock()
    answers = []  # (time, name, status, content type, retry-after, body)

    def writer(w):
        session = requests.Session()
        session.headers["Authorization"] = f"Token {key}"
        i = 0
        while not stop.is_set():
            name = f"w{w}-{i}"
            i += 1
            try:
                r = session.post(url, json={"name": name, "purpose": "load", "business_unit": "b"}, timeout=30)
                row = (time.monotonic(), name, r.status_code, r.headers.get("Content-Type", ""),
                       r.headers.get("Retry-After"), r.text[:300])
            except requests.RequestException as exc:  # connection-level: not acknowledged
                row = (time.monotonic(), name, None, "", None, repr(exc))
            with lock:
                answers.append(row)
            if row[2] == 503:
                time.sleep(0.05)

    def acknowledged():
        with lock:
            return sum(1 for a in answers if a[2] == 201)

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(4)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 60
        while acknowledged() < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        restart_at = time.monotonic()
        _restart(*server)
        restarted_at = time.monotonic()
        after = acknowledged()
        deadline = time.monotonic() + 60
        while acknowledged() < after + 20 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=35)
        connections.close_all()  # the test's own connection died with the server

    stored = set(UseCase.objects.filter(purpose="load").values_list("name", flat=True))
    acked = [a for a in answers if a[2] == 201]
    lost = [a[1] for a in acked if a[1] not in stored]
    failures = [a for a in answers if a[2] != 201]
    bad = [a for a in failures if a[2] is not None and not (
        a[2] == 503 and a[3].startswith("application/json") and a[4])]
    first_ok = min((a[0] for a in acked if a[0] > restarted_at), default=None)
    figures = {
        "requests": len(answers),
        "acknowledged": len(acked),
        "acknowledged_lost": len(lost),
        "json_503": sum(1 for a in failures if a[2] == 503),
        "other_errors": len(bad),
        "connection_errors": sum(1 for a in failures if a[2] is None),
        "restart_seconds": round(restarted_at - restart_at, 2),
        "first_write_after_restart_seconds": round(first_ok - restart_at, 2) if first_ok else None,
    }
    out = Path(os.environ.get("STEWARD_TEST_ARTIFACTS", "test-artifacts"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "fault-db-restart.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("database restart under write load:", figures)
    assert not lost, lost
    assert not bad, bad[:5]
    assert first_ok is not None, "no write succeeded after the restart"
