import pytest
from django.test import Client


@pytest.fixture
def admin_client_for(cast):
    """`admin_client_for("audrey")` → a Django test client signed in as that (staff) user."""

    def client_for(username):
        user = cast[username]
        user.is_staff = True  # seed_demo makes auditors, risk officers and admins staff
        user.save(update_fields=["is_staff"])
        client = Client()
        client.force_login(user)
        return client

    return client_for
