import pytest

from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_create_use_case_dataset_model(api, cast):
    dana = api("dana")
    uc = dana.post("/api/v1/use-cases/", {"name": "Fraud", "purpose": "Stop fraud", "business_unit": "Cards"})
    assert uc.status_code == 201, uc.json()
    assert uc.json()["owner"] == "dana"
    ds = dana.post(
        "/api/v1/datasets/",
        {"name": "tx", "version": "2026-01", "source_uri": "s3://tx", "sha256": "a" * 64,
         "contains_personal_data": True, "legal_basis": "contract"},
    )
    assert ds.status_code == 201, ds.json()
    model = dana.post("/api/v1/models/", {"name": "fraud-xgb", "description": "# Fraud\n<script>x()</script>", "use_case": uc.json()["id"]})
    assert model.status_code == 201, model.json()
    body = model.json()
    assert body["use_case_name"] == "Fraud"
    assert "<script>" not in body["description_html"]
    assert "<h1>Fraud</h1>" in body["description_html"]
    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    assert actions[-3:] == ["use_case.create", "dataset.create", "model.create"]


def test_request_id_is_echoed_and_recorded(api, cast):
    response = api("dana").post("/api/v1/use-cases/", {"name": "Traced"}, HTTP_X_REQUEST_ID="my-call-42")
    assert response["X-Request-ID"] == "my-call-42"
    event = AuditEvent.objects.get(action="use_case.create", object_repr="Traced")
    assert event.request_id == "my-call-42"
    assert event.actor_username == "dana"
    assert event.changes["name"] == {"before": None, "after": "Traced"}


def test_missing_and_wrong_type_fields_are_field_level_400(api, cast, inventory):
    response = api("dana").post("/api/v1/models/", {"description": "no name", "use_case": "not-a-number"})
    assert response.status_code == 400
    body = response.json()
    assert set(body["errors"]) == {"name", "use_case"}
    assert body["status"] == 400 and body["code"] == "invalid"


def test_personal_data_needs_a_legal_basis(api, cast):
    response = api("dana").post("/api/v1/datasets/", {"name": "people", "version": "1", "contains_personal_data": True})
    assert response.status_code == 400
    assert "legal_basis" in response.json()["errors"]


def test_duplicate_names_conflict(api, cast, inventory):
    dana = api("dana")
    response = dana.post("/api/v1/models/", {"name": "credit-gbm", "use_case": inventory["use_case"].pk})
    assert response.status_code == 409
    assert "name" in response.json()["errors"]
    dup_ds = dana.post("/api/v1/datasets/", {"name": "accounts", "version": "1"})
    assert dup_ds.status_code == 409
    dup_uc = dana.post("/api/v1/use-cases/", {"name": "Credit limits"})
    assert dup_uc.status_code == 409


def test_invalid_model_name_for_urls(api, cast, inventory):
    response = api("dana").post("/api/v1/models/", {"name": "has space/slash", "use_case": inventory["use_case"].pk})
    assert response.status_code == 400
    assert "name" in response.json()["errors"]


def test_unknown_model_is_404(api, cast):
    assert api("dana").get("/api/v1/models/nope/").status_code == 404
    response = api("dana").get("/api/v1/models/nope/versions/")
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_filters_and_search(api, cast, inventory):
    from registry import services

    other_uc = services.use_case_create(actor=cast["sam"], name="Churn")
    services.model_create(actor=cast["sam"], name="churn-logit", use_case=other_uc, tags=["marketing"])
    client = api("audrey")
    names = lambda r: [m["name"] for m in r.json()["results"]]  # noqa: E731
    assert names(client.get("/api/v1/models/")) == ["churn-logit", "credit-gbm"]
    assert names(client.get("/api/v1/models/?owner=sam")) == ["churn-logit"]
    assert names(client.get("/api/v1/models/?tag=credit")) == ["credit-gbm"]
    assert names(client.get(f"/api/v1/models/?use_case={other_uc.pk}")) == ["churn-logit"]
    assert names(client.get("/api/v1/models/?stage=development")) == ["credit-gbm"]
    assert names(client.get(f"/api/v1/models/?dataset={inventory['datasets'][0].pk}")) == ["credit-gbm"]
    assert names(client.get("/api/v1/models/?search=churn")) == ["churn-logit"]
    assert client.get("/api/v1/models/?stage=nonsense").status_code == 400
    detail = client.get("/api/v1/models/credit-gbm/").json()
    assert detail["latest_version"] == 1 and detail["version_count"] == 1 and detail["tags"] == ["credit"]


def test_dataset_lineage_both_ways(api, cast, inventory):
    accounts = inventory["datasets"][0]
    body = api("audrey").get(f"/api/v1/datasets/{accounts.pk}/").json()
    assert body["trained_versions"] == [{"model": "credit-gbm", "number": 1, "stage": "development"}]
    version = api("audrey").get("/api/v1/models/credit-gbm/versions/1/").json()
    assert sorted(version["training_datasets"]) == sorted(d.pk for d in inventory["datasets"])
