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


# Classification answers that score the lowest tier (as in tests/governance/conftest.py).
LOW_RISK_ANSWERS = {
    "regulation": "none", "personal_data": "no", "consumers": "one_team", "availability": "ad_hoc",
    "error_impact": "low", "release_cadence": "rare", "lifetime": "short", "decay": "slow", "explainability": "none",
}


@pytest.fixture
def promotion(inventory, cast):
    """rita classifies dana's use case (tier 1) and dana asks to move credit-gbm v1 to QA."""
    from governance.classification import classification_submit
    from governance.promotions import promotion_request

    classification_submit(actor=cast["rita"], use_case=inventory["use_case"], answers=LOW_RISK_ANSWERS)
    return promotion_request(actor=cast["dana"], version=inventory["version"], target_stage="qa", reason="ready")
