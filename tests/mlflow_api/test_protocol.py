"""The wire protocol as MLflow's client relies on it, checked in-process (the client itself is
driven in test_client.py): statuses, error bodies, parameters, query counts."""

import pytest

from mlflow_api import search
from mlflow_api.models import ModelTag
from registry import services as registry

pytestmark = pytest.mark.django_db

BASE = "/api/2.0/mlflow"


@pytest.fixture
def models(cast):
    dana = cast["dana"]
    use_case = registry.use_case_create(actor=dana, name="Credit", purpose="x")
    made = []
    for i in range(3):
        model = registry.model_create(actor=dana, name=f"m-{i}", use_case=use_case, description=f"*{i}*")
        for n in range(2):
            registry.model_version_register(actor=dana, model=model, artifact_uri=f"s3://b/{i}/{n}", sha256=f"{n:064x}")
        made.append(model)
    ModelTag.objects.create(model=made[0], key="team", value="risk")
    return made


def test_success_is_200_with_a_json_object_and_errors_have_mlflow_codes(api, models):
    dana = api("dana")
    response = dana.get(f"{BASE}/registered-models/get", {"name": "m-0"})
    assert response.status_code == 200
    body = response.json()["registered_model"]
    assert body["name"] == "m-0" and body["tags"] == [{"key": "team", "value": "risk"}]
    assert [v["version"] for v in body["latest_versions"]] == ["2"]  # newest per MLflow stage
    missing = dana.get(f"{BASE}/registered-models/get", {"name": "nope"})
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    no_name = dana.get(f"{BASE}/registered-models/get")
    assert no_name.status_code == 400 and no_name.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    dup = dana.post(f"{BASE}/registered-models/create", {"name": "m-0"}, format="json")
    assert dup.status_code == 400 and dup.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    # DELETE carries its parameters in a JSON body, and answers {} with 200.
    deleted = dana.delete(f"{BASE}/registered-models/delete-tag", {"name": "m-0", "key": "team"}, format="json")
    assert deleted.status_code == 200 and deleted.json() == {}
    assert not ModelTag.objects.exists()


def test_unauthenticated_is_401_and_never_5xx(client, models):
    response = client.get(f"{BASE}/registered-models/get", {"name": "m-0"})
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    bad = client.get(f"{BASE}/registered-models/get", {"name": "m-0"}, HTTP_AUTHORIZATION="Bearer stw_wrong")
    assert bad.status_code == 401


def test_get_sends_lists_as_repeated_keys(api, models):
    response = api("audrey").get(f"{BASE}/registered-models/get-latest-versions?name=m-1&stages=None&stages=Production")
    assert response.status_code == 200
    assert [v["version"] for v in response.json()["model_versions"]] == ["2"]
    # The client tries POST first; an auditor's read through POST is still a read.
    post = api("audrey").post(f"{BASE}/registered-models/get-latest-versions", {"name": "m-1"}, format="json")
    assert post.status_code == 200


def test_paging_tokens_walk_every_model_once(api, models):
    seen, token = [], None
    while True:
        params = {"max_results": 2, **({"page_token": token} if token else {})}
        body = api("dana").get(f"{BASE}/registered-models/search", params).json()
        seen += [m["name"] for m in body["registered_models"]]
        token = body.get("next_page_token")
        if not token:
            break
    assert seen == ["m-0", "m-1", "m-2"]
    bad = api("dana").get(f"{BASE}/registered-models/search", {"page_token": "garbage"})
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_point_reads_cost_a_fixed_number_of_queries(api, models, django_assert_num_queries):
    dana = api("dana")
    dana.get(f"{BASE}/registered-models/get", {"name": "m-0"})  # token's last_used_at written once
    # token+user+roles; model with its newest version per stage; its tags, aliases and the
    # protected aliases (one query)
    with django_assert_num_queries(3):
        assert dana.get(f"{BASE}/registered-models/get", {"name": "m-0"}).status_code == 200
    # token+user+roles; version; its tags, aliases and the protected aliases (+ their holders: none)
    with django_assert_num_queries(3):
        assert dana.get(f"{BASE}/model-versions/get", {"name": "m-0", "version": "1"}).status_code == 200
    # as many models as asked for, in the same number of queries: token; models; their extras;
    # newest versions per stage
    with django_assert_num_queries(4):
        body = dana.get(f"{BASE}/registered-models/search", {"max_results": 100}).json()
    assert len(body["registered_models"]) == 3


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("name = 'a'", [("attr", "name", "=", "a")]),
        ("name LIKE 'x%' AND tag.`mlflow.prompt.is_prompt` != 'true'",
         [("attr", "name", "LIKE", "x%"), ("tag", "mlflow.prompt.is_prompt", "!=", "true")]),
        ("attribute.run_id IN ('a', 'b')", [("attr", "run_id", "IN", ["a", "b"])]),
        ("tags.k ILIKE '%it''s%'", [("tag", "k", "ILIKE", "%it's%")]),
        ("version_number = 3", [("attr", "version_number", "=", 3)]),
    ],
)
def test_filter_grammar(filter_string, expected):
    assert search.parse(filter_string) == expected


@pytest.mark.parametrize("bad", ["name", "name = ", "name = 'a' OR name = 'b'", "name ~ 'a'", "foo.bar = 'x'", "name = 'a' AND"])
def test_malformed_filters_are_invalid_input(bad):
    from core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        search.parse(bad)


def test_like_translates_wildcards_and_escapes_the_rest():
    import re

    assert re.match(search.like_regex("a_c%"), "abcdef")
    assert not re.match(search.like_regex("a.c"), "abc")


def test_versions_of_one_model_page_in_the_default_order(api, models):
    first = api("dana").get(f"{BASE}/model-versions/search", {"filter": "name = 'm-0'", "max_results": 1}).json()
    assert [v["version"] for v in first["model_versions"]] == ["2"]
    rest = api("dana").get(f"{BASE}/model-versions/search",
                           {"filter": "name = 'm-0'", "max_results": 1, "page_token": first["next_page_token"]}).json()
    assert [v["version"] for v in rest["model_versions"]] == ["1"] and "next_page_token" not in rest
    # the same through the general path (another filter form), same answer
    both = api("dana").get(f"{BASE}/model-versions/search", {"filter": "name LIKE 'm-0'"}).json()
    assert [v["version"] for v in both["model_versions"]] == ["2", "1"]


def test_cached_markdown_is_the_same_sanitised_html_every_time():
    """core.text caches renders (descriptions are read far more often than written)."""
    import markdown
    import nh3

    from core.text import render_markdown

    text = "**bold** <script>alert(1)</script> [x](javascript:alert(1))"
    expected = nh3.clean(markdown.markdown(text, extensions=["extra", "sane_lists"]))
    assert render_markdown(text) == render_markdown(text) == expected
    assert "<script>" not in expected and "javascript:" not in expected
    long = "x " * 5000  # past the cache's bound: rendered, not cached
    assert render_markdown(long) == nh3.clean(markdown.markdown(long, extensions=["extra", "sane_lists"]))


def test_a_version_with_a_governance_record_cannot_be_deleted(api, models, cast):
    from governance.classification import classification_submit
    from governance.promotions import promotion_request
    from registry.models import ModelVersion

    classification_submit(actor=cast["omar"], use_case=models[0].use_case, answers={
        "regulation": "none", "personal_data": "no", "consumers": "one_team", "availability": "ad_hoc",
        "error_impact": "low", "release_cadence": "rare", "lifetime": "short", "decay": "slow", "explainability": "none"})
    version = ModelVersion.objects.get(model=models[0], number=1)
    promotion_request(actor=cast["dana"], version=version, target_stage="qa")
    refused = api("dana").delete(f"{BASE}/model-versions/delete", {"name": "m-0", "version": "1"}, format="json")
    assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"
    assert ModelVersion.objects.filter(pk=version.pk).exists()
    deleted = api("dana").delete(f"{BASE}/model-versions/delete", {"name": "m-0", "version": "2"}, format="json")
    assert deleted.status_code == 200 and deleted.json() == {}


def test_a_model_without_use_case_goes_to_the_callers_own(api, cast):
    from registry.models import RegisteredModel

    for name in ("first", "second"):
        response = api("dana").post(f"{BASE}/registered-models/create", {"name": name}, format="json")
        assert response.status_code == 200, response.json()
    use_cases = {m.use_case.name for m in RegisteredModel.objects.filter(name__in=["first", "second"])}
    assert use_cases == {"MLflow (dana)"}
    assert RegisteredModel.objects.get(name="first").use_case.owner == cast["dana"]
    unknown = api("dana").post(f"{BASE}/registered-models/create", {
        "name": "third", "tags": [{"key": "steward.use_case", "value": "no such use case"}]}, format="json")
    assert unknown.status_code == 400 and unknown.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert not RegisteredModel.objects.filter(name="third").exists()


def test_a_read_token_stays_read_only_through_the_mlflow_protocol(client, cast, models):
    """The token's scope is checked by the same function for `/api/v1/` and MLflow's protocol:
    a data scientist's read token reads, and cannot create, whether sent as Bearer or Basic."""
    import base64

    from core.services import token_create

    _, key = token_create(user=cast["dana"], actor=cast["dana"], name="laptop", scope="read")
    basic = "Basic " + base64.b64encode(f"dana:{key}".encode()).decode()
    for auth in (f"Bearer {key}", basic):
        read = client.get(f"{BASE}/registered-models/get", {"name": "m-0"}, HTTP_AUTHORIZATION=auth)
        assert read.status_code == 200
        write = client.post(f"{BASE}/registered-models/create", {"name": "sneaky"}, content_type="application/json",
                            HTTP_AUTHORIZATION=auth)
        assert write.status_code == 403 and write.json()["error_code"] == "PERMISSION_DENIED"
    from registry.models import RegisteredModel

    assert not RegisteredModel.objects.filter(name="sneaky").exists()


def test_timestamps_are_the_stored_instant_in_whole_milliseconds_on_every_path(api, models):
    """The database turns timestamps into MLflow's epoch milliseconds (`core.db.epoch_ms_sql`):
    checked against Python's own arithmetic on stored instants with and without a fraction of a
    second, through the point reads (hand-written SQL) and the searches (the ORM expression)."""
    from datetime import UTC, datetime

    from registry.models import ModelVersion, RegisteredModel

    instants = {"m-0": datetime(2026, 3, 4, 5, 6, 7, 891999, tzinfo=UTC),  # truncated, not rounded
                "m-1": datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),  # no fraction stored
                "m-2": datetime(2026, 11, 30, 0, 0, 0, 1000, tzinfo=UTC)}
    for name, when in instants.items():
        RegisteredModel.objects.filter(name=name).update(created_at=when, updated_at=when)
        ModelVersion.objects.filter(model__name=name).update(created_at=when, updated_at=when)
    expected = {name: int(when.timestamp()) * 1000 + when.microsecond // 1000 for name, when in instants.items()}
    dana = api("dana")
    for name, ms in expected.items():
        model = dana.get(f"{BASE}/registered-models/get", {"name": name}).json()["registered_model"]
        assert model["creation_timestamp"] == model["last_updated_timestamp"] == ms
        assert model["latest_versions"][0]["creation_timestamp"] == ms
        version = dana.get(f"{BASE}/model-versions/get", {"name": name, "version": "1"}).json()["model_version"]
        assert version["creation_timestamp"] == version["last_updated_timestamp"] == ms
    searched = dana.get(f"{BASE}/registered-models/search").json()["registered_models"]
    assert {m["name"]: m["creation_timestamp"] for m in searched} == expected
    versions = dana.get(f"{BASE}/model-versions/search", {"filter": "run_id != 'x'"}).json()["model_versions"]
    assert {v["name"]: v["last_updated_timestamp"] for v in versions} == expected


def test_get_model_and_search_answer_the_same_model_with_versions_in_several_stages(api, models, cast):
    """Get model reads the model and its newest version per stage in one statement; search reads
    them for a page of models. Both must give the same latest versions and protected aliases."""
    from registry.models import ModelVersion

    registry.model_version_register(actor=cast["dana"], model=models[0], artifact_uri="s3://b/0/2", sha256=f"{9:064x}")
    ModelVersion.objects.filter(model=models[0], number=1).update(stage="production")
    ModelVersion.objects.filter(model=models[0], number=2).update(stage="preproduction")
    dana = api("dana")
    got = dana.get(f"{BASE}/registered-models/get", {"name": "m-0"}).json()["registered_model"]
    searched = dana.get(f"{BASE}/registered-models/search", {"filter": "name = 'm-0'"}).json()["registered_models"]
    assert searched == [got]
    assert [(v["version"], v["current_stage"]) for v in got["latest_versions"]] == [
        ("1", "Production"), ("2", "Staging"), ("3", "None")]
    assert {"champion", "production"} <= {a["alias"] for a in got["aliases"] if a["version"] == "1"}
    missing = dana.get(f"{BASE}/registered-models/get", {"name": "m-9"})
    assert missing.status_code == 404
