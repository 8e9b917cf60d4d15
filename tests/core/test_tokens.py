"""API tokens carry a scope: read tokens read, write tokens act with their owner's rights, and
auditors can hold read tokens only — whichever way the token is made or used."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from core.errors import Forbidden
from core.models import ApiToken
from core.services import token_create
from registry.models import UseCase

pytestmark = pytest.mark.django_db


def _client(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_read_token_reads_and_cannot_write(cast):
    _, key = token_create(user=cast["dana"], actor=cast["dana"], name="dashboards", scope="read")
    client = _client(key)
    assert client.get("/api/v1/use-cases/").status_code == 200
    response = client.post("/api/v1/use-cases/", {"name": "Sneaky", "purpose": "x"})
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "read_only_token" and "read-only" in body["detail"] and body["request_id"]
    assert not UseCase.objects.filter(name="Sneaky").exists()


def test_read_token_cannot_mint_a_write_token(cast):
    _, key = token_create(user=cast["dana"], actor=cast["dana"], scope="read")
    response = _client(key).post("/api/v1/tokens/", {"name": "escalate", "scope": "write"})
    assert response.status_code == 403
    assert list(ApiToken.objects.filter(user=cast["dana"]).values_list("scope", flat=True)) == ["read"]


def test_write_token_writes(cast):
    _, key = token_create(user=cast["dana"], actor=cast["dana"])
    assert _client(key).post("/api/v1/use-cases/", {"name": "Fine", "purpose": "x"}).status_code == 201


def test_auditors_get_read_tokens_only(cast, client):
    token, _ = token_create(user=cast["audrey"], actor=cast["audrey"])
    assert token.scope == "read"
    with pytest.raises(Forbidden):
        token_create(user=cast["audrey"], actor=cast["root"], scope="write")  # not even an admin

    client.force_login(cast["audrey"])  # signed in to the portal, asking the API for a token
    refused = client.post("/api/v1/tokens/", {"name": "w", "scope": "write"}, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["errors"] == {"scope": ["Read-only users get read tokens only."]}
    made = client.post("/api/v1/tokens/", {"name": "r"}, content_type="application/json")
    assert made.status_code == 201 and made.json()["scope"] == "read"

    with pytest.raises(CommandError, match="read-only access"):
        call_command("create_api_token", "audrey", "--scope", "write")


def test_write_token_of_someone_who_became_an_auditor_reads_only(cast):
    rita = cast["rita"]
    _, key = token_create(user=rita, actor=rita)
    rita.groups.set([Group.objects.get(name="auditor")])
    client = _client(key)
    assert client.get("/api/v1/use-cases/").status_code == 200
    response = client.post("/api/v1/use-cases/", {"name": "After the move", "purpose": "x"})
    assert response.status_code == 403 and response.json()["detail"] == "Auditors have read-only access."


def test_unknown_scope_is_invalid_input(cast, api):
    response = api("dana").post("/api/v1/tokens/", {"name": "x", "scope": "admin"})
    assert response.status_code == 400 and "scope" in response.json()["errors"]
