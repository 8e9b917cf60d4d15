"""What a checkout set up by `./scripts/run` looks like to a person: manage.py works, clean output."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _env_without_secret(var_dir):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "STEWARD_ALLOW_INSECURE_KEY")}
    env["STEWARD_VAR_DIR"] = str(var_dir)
    return env


def test_manage_py_reads_the_secret_key_scripts_run_wrote(tmp_path):
    refused = _manage("check", env=_env_without_secret(tmp_path))
    assert refused.returncode != 0
    assert f"SECRET_KEY is not set and there is no {tmp_path / 'secret_key'}" in refused.stderr

    (tmp_path / "secret_key").write_text("k" * 60 + "\n")
    ok = _manage("check", env=_env_without_secret(tmp_path))
    assert ok.returncode == 0, ok.stderr
    shown = _manage("shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)",
                    env=_env_without_secret(tmp_path))
    assert shown.stdout.strip().splitlines()[-1] == "k" * 60


@pytest.mark.django_db
def test_seed_prints_the_logins_in_a_few_lines():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Demo logins (password for all: steward-demo-2026):"
    assert [line.split()[-1] for line in lines[1:]] == ["scientists", "officers", "auditor", "administrator"]
    assert "dana, sam" in lines[1] and "audrey" in lines[3]


@pytest.mark.django_db
def test_a_refused_admin_page_is_logged_in_one_line(cast, client):
    import logging

    # The console handler LOGGING configures (with its filter), writing into a buffer for now.
    console = next(h for h in logging.getLogger().handlers if h.filters)
    buffer = StringIO()
    previous = console.setStream(buffer)
    try:
        cast["audrey"].is_staff = True
        cast["audrey"].save(update_fields=["is_staff"])
        client.force_login(cast["audrey"])
        assert client.get("/admin/registry/usecase/add/").status_code == 403
    finally:
        console.setStream(previous)
    assert "Forbidden (Permission denied): /admin/registry/usecase/add/" in buffer.getvalue()
    assert "Traceback" not in buffer.getvalue()


def test_api_docs_load_swagger_ui_from_our_static_files(client):
    body = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle" in body
    assert "cdn" not in body.lower() and "https://" not in body


def test_the_default_broker_url_names_a_host(settings):
    from kombu import Connection

    # kombu warns "No hostname was supplied" for a bare filesystem:// URL.
    assert Connection(settings.CELERY_BROKER_URL).hostname
