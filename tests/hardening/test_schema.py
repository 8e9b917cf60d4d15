"""The schema tells the truth: documented error statuses with the error shape on every operation,
nullable where the data is null, and create answers in the same shape as reads."""

import json

import pytest
from drf_spectacular.generators import SchemaGenerator

from core.schema import READ_ERRORS, WRITE_ERRORS


@pytest.fixture(scope="module")
def schema():
    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))


def test_every_operation_documents_its_error_statuses_with_the_error_shape(schema):
    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            expected = READ_ERRORS if method == "get" else WRITE_ERRORS
            for code in expected:
                response = operation["responses"].get(code)
                ref = (response or {}).get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
                if ref != "#/components/schemas/Error":
                    missing.append(f"{method.upper()} {path} {code}")
            assert "Retry-After" in operation["responses"]["503"]["headers"]
    assert not missing, missing
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"status", "code", "detail", "errors", "request_id"}


def test_user_references_that_can_be_null_are_nullable(schema):
    components = schema["components"]["schemas"]
    assert components["Policy"]["properties"]["created_by"]["nullable"] is True
    assert components["Classification"]["properties"]["overridden_by"]["nullable"] is True
    assert components["Review"]["properties"]["completed_by"]["nullable"] is True


def test_patching_a_version_documents_its_body(schema):
    patch = schema["paths"]["/api/v1/models/{name}/versions/{number}/"]["patch"]
    assert "requestBody" in patch


@pytest.mark.django_db
def test_the_built_in_policy_has_no_author_and_says_null(api, cast):
    body = api("audrey").get("/api/v1/policies/versions/1/").json()
    assert body["created_by"] is None


@pytest.mark.django_db
def test_create_answers_carry_the_read_shape(api, inventory):
    client = api("dana")
    created = client.post("/api/v1/use-cases/", {"name": "new", "purpose": "p", "business_unit": "b"})
    assert created.status_code == 201
    assert created.json()["model_count"] == 0
    model = client.post("/api/v1/models/", {"name": "m2", "use_case": created.json()["id"]}).json()
    assert model["version_count"] == 0 and model["latest_version"] is None
    updated = client.patch(f"/api/v1/use-cases/{inventory['use_case'].pk}/", {"purpose": "q"})
    assert updated.json()["model_count"] == 1
