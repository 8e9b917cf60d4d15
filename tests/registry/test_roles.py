import pytest

pytestmark = pytest.mark.django_db


def test_anonymous_gets_nothing(api, inventory):
    for path in ["/api/v1/models/", "/api/v1/models/credit-gbm/", "/api/v1/datasets/", "/api/v1/use-cases/",
                 "/api/v1/models/credit-gbm/versions/1/artifact/", "/api/v1/audit/events/"]:
        response = api().get(path)
        assert response.status_code == 401, path
        assert response.json()["status"] == 401


def test_wrong_and_revoked_token(api, cast, inventory):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token stw_not-a-real-token")
    response = client.get("/api/v1/models/")
    assert response.status_code == 401
    assert "Invalid" in response.json()["detail"]

    created = api("dana").post("/api/v1/tokens/", {"name": "laptop"})
    assert created.status_code == 201
    key = created.json()["key"]
    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert fresh.get("/api/v1/models/").status_code == 200
    assert api("dana").post(f"/api/v1/tokens/{created.json()['id']}/revoke/").status_code == 200
    assert fresh.get("/api/v1/models/").status_code == 401


def test_tokens_are_stored_hashed(api, cast):
    from core.models import ApiToken

    key = api("dana").post("/api/v1/tokens/", {"name": "ci"}).json()["key"]
    stored = ApiToken.objects.get(name="ci")
    assert key not in (stored.key_hash, stored.prefix)
    assert stored.key_hash == ApiToken.hash_key(key)


def test_user_without_role_gets_403(api, cast):
    assert api("nobody").get("/api/v1/models/").status_code == 403


def test_auditor_reads_everything_writes_nothing(api, cast, inventory):
    audrey = api("audrey")
    assert audrey.get("/api/v1/models/credit-gbm/").status_code == 200
    assert audrey.get("/api/v1/models/credit-gbm/versions/1/artifact/").status_code == 200
    assert audrey.get("/api/v1/audit/events/").status_code == 200
    for method, path, body in [
        ("post", "/api/v1/use-cases/", {"name": "x"}),
        ("post", "/api/v1/models/", {"name": "x", "use_case": inventory["use_case"].pk}),
        ("patch", "/api/v1/models/credit-gbm/", {"description": "x"}),
        ("delete", "/api/v1/models/credit-gbm/", None),
        ("post", "/api/v1/models/credit-gbm/versions/", {"artifact_uri": "s3://x", "sha256": "a" * 64}),
        ("post", "/api/v1/datasets/", {"name": "x", "version": "1"}),
    ]:
        response = getattr(audrey, method)(path, body)
        assert response.status_code == 403, (method, path)
        assert response.json()["detail"] == "Auditors have read-only access."


def test_data_scientist_writes_only_own_or_use_case_models(api, cast, inventory):
    sam = api("sam")
    assert sam.patch("/api/v1/models/credit-gbm/", {"description": "mine now"}).status_code == 403
    response = sam.post("/api/v1/models/credit-gbm/versions/", {"artifact_uri": "s3://x", "sha256": "a" * 64})
    assert response.status_code == 403
    assert sam.patch(f"/api/v1/datasets/{inventory['datasets'][0].pk}/", {"description": "x"}).status_code == 403
    # sam may not attach a model to dana's use case himself (issue 8, point 2)…
    response = sam.post("/api/v1/models/", {"name": "sams-model", "use_case": inventory["use_case"].pk})
    assert response.status_code == 403
    # …he registers it in his own and proposes the move; a risk officer confirms it.
    own = sam.post("/api/v1/use-cases/", {"name": "Sam's", "purpose": "x"}).json()
    assert sam.post("/api/v1/models/", {"name": "sams-model", "use_case": own["id"]}).status_code == 201
    moved = sam.patch("/api/v1/models/sams-model/", {"use_case": inventory["use_case"].pk})
    assert moved.status_code == 202 and moved.json()["use_case"] == own["id"]
    assert api("rita").post(f"/api/v1/proposals/{moved.json()['proposal']['id']}/confirm/", {}).status_code == 200
    # sam owns a model in dana's use case: dana (use case owner) may write it too.
    assert api("dana").patch("/api/v1/models/sams-model/", {"description": "reviewed"}).status_code == 200
    assert sam.patch("/api/v1/models/sams-model/", {"tags": ["x"]}).status_code == 200


def test_risk_officer_cannot_register_models(api, cast, inventory):
    response = api("rita").post("/api/v1/models/", {"name": "x", "use_case": inventory["use_case"].pk})
    assert response.status_code == 403
    assert api("rita").patch(f"/api/v1/use-cases/{inventory['use_case'].pk}/", {"purpose": "clarified"}).status_code == 200


def test_create_api_token_command_prints_token_last(cast):
    from io import StringIO

    from django.core.management import call_command
    from rest_framework.test import APIClient

    out = StringIO()
    call_command("create_api_token", "dana", stdout=out, stderr=StringIO())
    key = out.getvalue().strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/me/").json() == {"username": "dana", "roles": ["data_scientist"]}
