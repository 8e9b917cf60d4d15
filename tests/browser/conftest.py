"""The browser-test harness: Playwright driving Debian's Chromium against pytest-django's live server.

To add a browser test: put `test_*.py` here with
`pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]`, take the `page`
fixture (a fresh browser context on the live server; relative URLs work: `page.goto("/inventory/")`)
and the `login` fixture, and sign in with `login(page, "rita")`. Build data through services, as elsewhere; the test runs in
a transactional database so the live server's thread (and a `celery_worker`) see the rows. When a
test fails, a screenshot lands in `$STEWARD_TEST_ARTIFACTS/screenshots/<test name>.png`.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread, which trips Django's async-unsafe
# check on every ORM call in the test body; the calls are in fact synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct-horse-battery-42"  # tests/conftest.py's PASSWORD, for the login form
CHROMIUM = os.environ.get("STEWARD_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set STEWARD_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _browser_settings(settings):
    # Plain http on the live server: cookies must not be Secure-only. Lockout stays on.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.AXES_ENABLED = True
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def submit_login(page, username, password=PASSWORD):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def login(cast):
    """`login(page, "dana")`: sign in through the real login form and land on the dashboard."""

    def sign_in(page, username, password=PASSWORD):
        submit_login(page, username, password)
        page.wait_for_url(re.compile(r"/$"))
        return cast[username]

    return sign_in


@pytest.fixture
def attempt_login():
    """`attempt_login(page, "dana", "wrong")`: submit the form and stay wherever it answers."""
    return submit_login


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and page is not None:
        folder = Path(os.environ.get("STEWARD_TEST_ARTIFACTS", "test-artifacts")) / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (re.sub(r"[^\w.-]+", "_", item.name) + ".png")
        try:
            page.screenshot(path=str(path), full_page=True)
            report.sections.append(("screenshot", str(path)))
        except Exception as exc:  # noqa: BLE001 - a failed screenshot must not hide the failure
            report.sections.append(("screenshot", f"could not save: {exc}"))
