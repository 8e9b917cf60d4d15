"""The unchanged `mlflow` client against a live Steward server (pytest-django's `live_server`).

Everything the client does here goes over HTTP to `/api/2.0/…`; what it wrote is then read back
through `/api/v1/` and the services, and what Steward's own API or governance did is read
through the client.
"""

import hashlib

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException

from audit.models import AuditEvent
from core.services import token_create
from governance.classification import classification_override, classification_submit
from governance.gate_exceptions import gate_exception_grant
from governance.models import PromotionRequest
from governance.promotions import signoff_approve
from registry import services as registry
from registry.models import ModelVersion

LOW = {
    "regulation": "none", "personal_data": "no", "consumers": "one_team", "availability": "ad_hoc",
    "error_impact": "low", "release_cadence": "rare", "lifetime": "short", "decay": "slow", "explainability": "none",
}


@pytest.fixture
def as_user(live_server, cast, monkeypatch):
    """`as_user("dana")` → an MlflowClient whose requests carry dana's API token as
    MLFLOW_TRACKING_TOKEN (the three lines of docs/mlflow.md)."""
    keys = {}

    def client(username):
        if username not in keys:
            keys[username] = token_create(user=cast[username], actor=cast[username], name="mlflow")[1]
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", keys[username])
        monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
        monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
        return MlflowClient(tracking_uri=live_server.url, registry_uri=live_server.url)

    return client


@pytest.fixture
def use_case(cast):
    use_case = registry.use_case_create(actor=cast["dana"], name="Credit limits", purpose="Limits")
    classification_submit(actor=cast["omar"], use_case=use_case, answers=LOW)
    return use_case


def _error(excinfo) -> str:
    return excinfo.value.error_code


def _upload(live_server, path: str, tmp_path, data: bytes) -> None:
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    local = tmp_path / path.rsplit("/", 1)[-1]
    local.write_bytes(data)
    repo = get_artifact_repository(f"mlflow-artifacts:/{path.rsplit('/', 1)[0]}", tracking_uri=live_server.url)
    repo.log_artifact(str(local))


def test_register_upload_verify_and_read_back_through_api_v1(as_user, live_server, tmp_path, api, use_case):
    client = as_user("dana")
    created = client.create_registered_model(
        "credit-mlflow", tags={"team": "risk", "steward.use_case": str(use_case.pk)}, description="Limits *model*"
    )
    assert created.name == "credit-mlflow"
    assert created.tags == {"team": "risk", "steward.use_case": str(use_case.pk)}
    with pytest.raises(MlflowException) as excinfo:
        client.create_registered_model("credit-mlflow")
    assert _error(excinfo) == "RESOURCE_ALREADY_EXISTS"

    blob = b"\x00weights" * 500
    _upload(live_server, "runs/r1/model.pkl", tmp_path, blob)
    version = client.create_model_version(
        "credit-mlflow", "mlflow-artifacts:/runs/r1/model.pkl", run_id="r1",
        tags={"mlflow.source.git.commit": "abc1234def", "stage-note": "first"}, await_creation_for=0,
    )
    assert version.version == "1"
    assert version.status == "PENDING_REGISTRATION"  # the checksum job has not run yet
    assert version.current_stage == "None"
    stored = ModelVersion.objects.get(model__name="credit-mlflow", number=1)
    registry.model_version_artifact_verify(version_id=stored.pk)  # what the worker does
    assert client.get_model_version("credit-mlflow", "1").status == "READY"

    body = api("dana").get("/api/v1/models/credit-mlflow/versions/1/").json()
    assert body["sha256"] == hashlib.sha256(blob).hexdigest()
    assert body["size"] == len(blob)
    assert body["stage"] == "development"
    assert body["status"] == "verified"
    assert body["training_run"] == "r1"
    assert body["code_commit"] == "abc1234def"
    assert body["created_by"] == "dana"
    model = api("dana").get("/api/v1/models/credit-mlflow/").json()
    assert model["use_case"] == use_case.pk and model["description"] == "Limits *model*"
    assert AuditEvent.objects.filter(action="model_version.register", object_id=str(stored.pk)).exists()
    assert AuditEvent.objects.filter(action="mlflow.version.create", object_id=str(stored.pk)).exists()

    # The client downloads the governed bytes with its own credentials.
    import mlflow.artifacts

    out = mlflow.artifacts.download_artifacts(
        artifact_uri=client.get_model_version_download_uri("credit-mlflow", "1"), dst_path=str(tmp_path / "dl"),
        tracking_uri=live_server.url,
    )
    import pathlib

    assert (pathlib.Path(out) / "model.pkl").read_bytes() == blob

    # Uploads are write-once: the bytes a version came from cannot be swapped.
    with pytest.raises(Exception, match="409"):
        _upload(live_server, "runs/r1/model.pkl", tmp_path, b"other bytes")


def test_objects_made_through_api_v1_are_seen_by_the_client(as_user, api, use_case, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    created = api("dana").post("/api/v1/models/", {"name": "via-v1", "use_case": use_case.pk, "description": "x"})
    assert created.status_code == 201, created.json()
    response = api("dana").post(
        "/api/v1/models/via-v1/versions/", {"artifact": SimpleUploadedFile("m.bin", b"bytes")}, format="multipart"
    )
    assert response.status_code == 201
    client = as_user("audrey")  # auditors read
    model = client.get_registered_model("via-v1")
    assert model.description == "x"
    assert [v.version for v in model.latest_versions] == ["1"]
    version = client.get_model_version("via-v1", "1")
    # PENDING_REGISTRATION until the artifact check has run; a worker left running by an earlier
    # test may already have run it.
    assert version.status in ("PENDING_REGISTRATION", "READY") and version.user_id == "dana"
    assert client.get_model_version_download_uri("via-v1", "1") == "mlflow-artifacts:/steward/via-v1/1"


def test_tags_search_filters_and_paging(as_user, use_case):
    client = as_user("dana")
    sha = "ab" * 32
    for i in range(5):
        client.create_registered_model(f"fraud-{i}", tags={"steward.use_case": str(use_case.pk), "team": "a" if i % 2 else "b"})
    client.create_registered_model("churn", tags={"steward.use_case": str(use_case.pk)})
    for i in range(3):
        client.create_model_version("fraud-0", f"s3://bucket/fraud/{i}", run_id=f"run-{i}",
                                    tags={"steward.sha256": sha}, await_creation_for=0)
    client.create_registered_model("a-prompt", tags={"steward.use_case": str(use_case.pk)})
    client.set_registered_model_tag("a-prompt", "mlflow.prompt.is_prompt", "true")
    client.set_registered_model_tag("fraud-1", "owner.email", "x@example.com")
    client.delete_registered_model_tag("fraud-1", "owner.email")
    assert "owner.email" not in client.get_registered_model("fraud-1").tags
    client.set_model_version_tag("fraud-0", "2", "validated", "yes")
    assert client.get_model_version("fraud-0", "2").tags["validated"] == "yes"

    # search_registered_models appends AND tag.`mlflow.prompt.is_prompt` != 'true' itself.
    page = client.search_registered_models(filter_string="name LIKE 'fraud-%'", max_results=2, order_by=["name DESC"])
    names = [m.name for m in page]
    while page.token:
        page = client.search_registered_models(filter_string="name LIKE 'fraud-%'", max_results=2,
                                               order_by=["name DESC"], page_token=page.token)
        names += [m.name for m in page]
    assert names == ["fraud-4", "fraud-3", "fraud-2", "fraud-1", "fraud-0"]
    assert "a-prompt" not in {m.name for m in client.search_registered_models()}
    assert {m.name for m in client.search_registered_models("name ILIKE 'FRAUD-_'")} == {f"fraud-{i}" for i in range(5)}
    assert {m.name for m in client.search_registered_models("tag.team = 'a'")} == {"fraud-1", "fraud-3"}
    assert {m.name for m in client.search_registered_models("tag.`team` != 'a' AND name LIKE 'fraud%'")} == {
        "fraud-0", "fraud-2", "fraud-4"}
    versions = client.search_model_versions("name = 'fraud-0'", order_by=["version_number ASC"])
    assert [v.version for v in versions] == ["1", "2", "3"]
    assert [v.version for v in client.search_model_versions("run_id IN ('run-0', 'run-2')")] == ["3", "1"]
    assert [v.version for v in client.search_model_versions("tag.validated = 'yes'")] == ["2"]
    with pytest.raises(MlflowException) as excinfo:
        client.search_registered_models("name ~ 'x'")
    assert _error(excinfo) == "INVALID_PARAMETER_VALUE"
    # A reference without a SHA-256 cannot be checked, so it is refused.
    with pytest.raises(MlflowException) as excinfo:
        client.create_model_version("fraud-0", "s3://bucket/unknown", await_creation_for=0)
    assert _error(excinfo) == "INVALID_PARAMETER_VALUE"

    client.rename_registered_model("churn", "churn-v2")
    client.update_registered_model("churn-v2", description="renamed")
    assert client.get_registered_model("churn-v2").description == "renamed"
    client.delete_model_version("fraud-0", "3")
    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version("fraud-0", "3")
    assert _error(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    client.delete_registered_model("churn-v2")
    with pytest.raises(MlflowException) as excinfo:
        client.get_registered_model("churn-v2")
    assert _error(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_roles_apply_as_everywhere(as_user, use_case):
    as_user("dana").create_registered_model("mine", tags={"steward.use_case": str(use_case.pk)})
    for name in ("audrey", "sam"):  # an auditor, and a data scientist who owns nothing of dana's
        with pytest.raises(MlflowException) as excinfo:
            as_user(name).set_registered_model_tag("mine", "k", "v")
        assert _error(excinfo) == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as excinfo:
        as_user("nobody").get_registered_model("mine")
    assert _error(excinfo) == "PERMISSION_DENIED"


def test_free_aliases_move_without_governance(as_user, use_case):
    client = as_user("dana")
    client.create_registered_model("m", tags={"steward.use_case": str(use_case.pk)})
    for _ in range(2):
        client.create_model_version("m", "s3://b/m", tags={"steward.sha256": "cd" * 32}, await_creation_for=0)
    client.set_registered_model_alias("m", "candidate", "1")
    client.set_registered_model_alias("m", "candidate", "2")
    assert client.get_model_version_by_alias("m", "candidate").version == "2"
    assert client.get_registered_model("m").aliases == {"candidate": "2"}
    client.delete_registered_model_alias("m", "candidate")
    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version_by_alias("m", "candidate")
    assert _error(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    assert not PromotionRequest.objects.exists()


def _refused(call) -> RestException:
    with pytest.raises(RestException) as excinfo:
        call()
    assert excinfo.value.error_code == "PERMISSION_DENIED"
    return excinfo.value


def test_protected_alias_opens_a_promotion_and_succeeds_after_signoff(as_user, use_case, cast):
    client = as_user("dana")
    client.create_registered_model("scorer", tags={"steward.use_case": str(use_case.pk)})
    for _ in range(2):
        client.create_model_version("scorer", "s3://b/scorer", tags={"steward.sha256": "ef" * 32, "mlflow.source.git.commit": "abc1234"}, await_creation_for=0)
    v1 = ModelVersion.objects.get(model__name="scorer", number=1)

    # Each call opens the request for the next stage and is refused (403: the client does not retry).
    for step in ("qa", "preproduction", "production"):
        error = _refused(lambda: client.set_registered_model_alias("scorer", "champion", "1"))
        promotion = PromotionRequest.objects.get(version=v1, target_stage=step, status="open")
        assert f"#{promotion.pk}" in str(error) and "approval" in str(error)
        # the same call again names the same request instead of opening another
        _refused(lambda: client.set_registered_model_alias("scorer", "champion", "1"))
        assert PromotionRequest.objects.filter(version=v1, target_stage=step).count() == 1
        signoff_approve(promotion=promotion, actor=cast["rita"], comment="ok")
    v1.refresh_from_db()
    assert v1.stage == "production"
    client.set_registered_model_alias("scorer", "champion", "1")  # already there: 200
    assert client.get_model_version_by_alias("scorer", "champion").version == "1"
    assert set(client.get_model_version("scorer", "1").aliases) == {"champion", "production"}
    assert client.get_model_version("scorer", "1").current_stage == "Production"

    # v2 through qa and preproduction by transition-stage, then the alias: the previous holder
    # is archived in the promotion's transaction.
    _refused(lambda: client.transition_model_version_stage("scorer", "2", "Staging"))
    signoff_approve(promotion=PromotionRequest.objects.get(version__number=2, target_stage="qa"), actor=cast["omar"])
    _refused(lambda: client.transition_model_version_stage("scorer", "2", "Staging"))
    signoff_approve(promotion=PromotionRequest.objects.get(version__number=2, target_stage="preproduction"),
                    actor=cast["omar"])
    assert client.get_model_version("scorer", "2").current_stage == "Staging"
    _refused(lambda: client.set_registered_model_alias("scorer", "champion", "2"))
    signoff_approve(promotion=PromotionRequest.objects.get(version__number=2, target_stage="production"),
                    actor=cast["rita"])
    assert client.get_model_version_by_alias("scorer", "champion").version == "2"
    assert client.get_model_version("scorer", "1").current_stage == "Archived"
    assert client.get_latest_versions("scorer", stages=["Production"])[0].version == "2"
    model = client.get_registered_model("scorer")
    assert model.aliases == {"champion": "2", "production": "2"}
    assert {(v.current_stage, v.version) for v in model.latest_versions} == {("Production", "2"), ("Archived", "1")}
    # A protected alias follows its stage; it is not deleted by hand.
    _refused(lambda: client.delete_registered_model_alias("scorer", "champion"))


def test_gates_met_at_call_time_promote_in_that_call(as_user, use_case, cast):
    classification_override(actor=cast["rita"], use_case=use_case, tier=2, justification="internal")
    registry.dataset_create(actor=cast["dana"], name="accounts", version="1", source_uri="s3://a", sha256="56" * 32)
    client = as_user("dana")
    client.create_registered_model("card", tags={"steward.use_case": str(use_case.pk)})
    client.create_model_version("card", "s3://b/card", await_creation_for=0, tags={
        "steward.sha256": "12" * 32, "mlflow.source.git.commit": "abc1234", "steward.training_datasets": "accounts@1"})
    version = ModelVersion.objects.get(model__name="card", number=1)
    assert [str(d) for d in version.training_datasets.all()] == ["accounts@1"]
    for step in ("qa", "preproduction", "production"):
        _refused(lambda: client.transition_model_version_stage("card", "1", "Production"))
        promotion = PromotionRequest.objects.get(version=version, target_stage=step)
        signoff_approve(promotion=promotion, actor=cast["rita"])
    promotion.refresh_from_db()
    assert promotion.status == "approved"  # tier 2 production also needs a model card
    error = _refused(lambda: client.transition_model_version_stage("card", "1", "Production"))
    assert "model card" in str(error).lower() and f"#{promotion.pk}" in str(error)
    # A card written now would lapse the approval (it is evidence); a risk officer's scoped
    # exception meets the gate instead, and the client's next call completes the move.
    from datetime import timedelta

    from django.utils import timezone

    gate_exception_grant(actor=cast["omar"], gate="model_card", version=version, justification="card in review",
                         expires_at=timezone.now() + timedelta(days=3))
    moved = client.transition_model_version_stage("card", "1", "Production")
    assert moved.current_stage == "Production"
    promotion.refresh_from_db()
    assert promotion.status == "promoted"


def test_only_risk_officers_mark_aliases_protected(as_user, use_case, cast):
    from core.errors import Forbidden
    from mlflow_api import services

    with pytest.raises(Forbidden):
        services.protected_alias_set(actor=cast["dana"], alias="gold", stage="preproduction")
    services.protected_alias_set(actor=cast["rita"], alias="gold", stage="preproduction")
    client = as_user("dana")
    client.create_registered_model("g", tags={"steward.use_case": str(use_case.pk)})
    client.create_model_version("g", "s3://b/g", tags={"steward.sha256": "34" * 32}, await_creation_for=0)
    _refused(lambda: client.set_registered_model_alias("g", "gold", "1"))
    assert PromotionRequest.objects.filter(version__model__name="g", target_stage="qa").exists()


def test_basic_auth_with_token_or_password(live_server, cast, use_case, monkeypatch):
    from tests.conftest import PASSWORD

    key = token_create(user=cast["dana"], actor=cast["dana"], name="basic")[1]
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "dana")
    for secret in (key, PASSWORD):
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", secret)
        client = MlflowClient(tracking_uri=live_server.url, registry_uri=live_server.url)
        assert client.search_registered_models() is not None
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
    with pytest.raises(MlflowException) as excinfo:
        MlflowClient(tracking_uri=live_server.url, registry_uri=live_server.url).search_registered_models()
    assert _error(excinfo) == "UNAUTHENTICATED"
