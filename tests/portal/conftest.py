import pytest
from django.test import Client


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # No collectstatic manifest in tests: {% static %} must not look one up.
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture
def browse(cast):
    """`browse("dana")` → a Django test Client signed in as that user (session, like a browser)."""

    def client_for(username):
        client = Client()
        client.force_login(cast[username])
        return client

    return client_for
