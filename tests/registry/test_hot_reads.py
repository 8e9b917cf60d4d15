"""The API's hot reads (`registry.selectors`) answer exactly what the serializers would.

The model and version reads of `/api/v1/` are served from fixed-shape SQL for speed; the
serializers stay the API's definition. Each test renders the serializer's answer for the same
objects through DRF's JSON renderer and compares bytes, so a field added to a serializer and not
to the selectors (or a value represented differently on one database) fails here.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from registry import services
from registry.api import ModelVersionViewSet, RegisteredModelViewSet
from registry.models import ModelVersion
from registry.serializers import ModelVersionSerializer, RegisteredModelSerializer
from tests.conftest import sha

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(cast, inventory):
    dana = cast["dana"]
    accounts, bureau = inventory["datasets"]
    other = services.model_create(
        actor=dana, name="churn-rf", use_case=inventory["use_case"], tags=["retention", "alpha"],
        description="# Churn\n\nSee *the notes* <script>x()</script> and [docs](https://example.com).",
    )
    services.model_create(actor=dana, name="empty-model", use_case=inventory["use_case"])
    for n in range(3):
        services.model_version_register(
            actor=dana, model=other, artifact_uri=f"s3://churn/{n}", sha256=sha(str(n).encode()), size=10 + n,
            description=f"Run {n} — ünïcode", training_datasets=[bureau, accounts], validation_datasets=[accounts],
            params={"depth": n, "nested": {"a": [1, 2.5, None]}}, metrics={"auc": 0.7 + n / 100},
            input_signature={"inputs": ["x", "y"]}, tags=["nightly", "gpu"], training_run=f"run-{n}",
        )
    # A stored state the read path must show: a version in production with a checked artifact
    # (how it gets there is governance's business, tested there).
    checked = timezone.now() - timedelta(hours=3)
    ModelVersion.objects.filter(model=other, number=2).update(stage="production", status="referenced",
                                                               status_checked_at=checked)
    return {"models": ["credit-gbm", "churn-rf", "empty-model"], "other": other}


def _viewset(cls, action, **kwargs):
    view = cls()
    view.action, view.kwargs, view.format_kwarg, view.request = action, kwargs, None, None
    return view


def _model_reference(name):
    obj = _viewset(RegisteredModelViewSet, "retrieve").get_queryset().get(name=name)
    return RegisteredModelSerializer(obj).data


def _version_reference(name, number=None):
    queryset = _viewset(ModelVersionViewSet, "retrieve", name=name).get_queryset()
    if number is None:
        return ModelVersionSerializer(queryset, many=True).data
    return ModelVersionSerializer(queryset.get(number=number)).data


def _render(data) -> bytes:
    return JSONRenderer().render(data)


def test_model_detail_is_the_serializers_answer(api, world):
    dana = api("dana")
    for name in world["models"]:
        response = dana.get(f"/api/v1/models/{name}/")
        assert response.status_code == 200
        assert response.content == _render(_model_reference(name)), name
    body = dana.get("/api/v1/models/churn-rf/").json()
    assert body["production_version"] == 2 and body["latest_version"] == 3 and body["version_count"] == 3
    assert body["tags"] == ["alpha", "retention"] and "<script>" not in body["description_html"]


def test_model_list_pages_are_the_serializers_answer(api, world):
    dana = api("dana")
    first = dana.get("/api/v1/models/", {"page_size": 2}).json()
    second = dana.get(first["next"]).json()
    assert first["count"] == second["count"] == 3
    assert [m["name"] for m in first["results"] + second["results"]] == sorted(world["models"])
    for row in first["results"] + second["results"]:
        assert _render(row) == _render(_model_reference(row["name"]))


def test_model_list_filters_search_and_ordering_still_apply(api, world):
    dana = api("dana")
    assert [m["name"] for m in dana.get("/api/v1/models/", {"stage": "production"}).json()["results"]] == ["churn-rf"]
    assert [m["name"] for m in dana.get("/api/v1/models/", {"tag": "alpha"}).json()["results"]] == ["churn-rf"]
    assert [m["name"] for m in dana.get("/api/v1/models/", {"search": "notes"}).json()["results"]] == ["churn-rf"]
    ordered = dana.get("/api/v1/models/", {"ordering": "-name"}).json()["results"]
    assert [m["name"] for m in ordered] == sorted(world["models"], reverse=True)
    assert dana.get("/api/v1/models/", {"stage": "nonsense"}).status_code == 400


def test_a_detail_with_filters_takes_the_general_path(api, world):
    dana = api("dana")
    assert dana.get("/api/v1/models/churn-rf/", {"stage": "production"}).status_code == 200
    assert dana.get("/api/v1/models/credit-gbm/", {"stage": "production"}).status_code == 404
    missing = dana.get("/api/v1/models/no-such-model/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_version_detail_and_list_are_the_serializers_answer(api, world):
    dana = api("dana")
    for name, numbers in (("credit-gbm", [1]), ("churn-rf", [1, 2, 3])):
        for number in numbers:
            response = dana.get(f"/api/v1/models/{name}/versions/{number}/")
            assert response.status_code == 200
            assert response.content == _render(_version_reference(name, number)), (name, number)
        listed = dana.get(f"/api/v1/models/{name}/versions/").json()
        assert listed["count"] == len(numbers)
        assert _render(listed["results"]) == _render(_version_reference(name))
    version = dana.get("/api/v1/models/churn-rf/versions/2/").json()
    assert version["training_datasets"] == [world_ids(world, "accounts"), world_ids(world, "bureau")]
    assert version["status_checked_at"] and version["stage"] == "production"
    assert dana.get("/api/v1/models/credit-gbm/versions/1/").json()["artifact_url"].endswith("/versions/1/artifact/")


def world_ids(world, dataset_name):
    from registry.models import Dataset

    return Dataset.objects.get(name=dataset_name).pk


def test_version_list_filters_paging_and_unknown_models(api, world):
    dana = api("dana")
    production = dana.get("/api/v1/models/churn-rf/versions/", {"stage": "production"}).json()["results"]
    assert [v["number"] for v in production] == [2]
    page = dana.get("/api/v1/models/churn-rf/versions/", {"page_size": 2, "page": 2}).json()
    assert [v["number"] for v in page["results"]] == [1] and page["previous"]
    assert dana.get("/api/v1/models/empty-model/versions/").json() == {
        "count": 0, "next": None, "previous": None, "results": []}
    assert dana.get("/api/v1/models/no-such-model/versions/").status_code == 404
    # an unknown model is 404 before a bad page size is 400, as on the general path
    assert dana.get("/api/v1/models/no-such-model/versions/", {"page_size": "x"}).status_code == 404
    assert dana.get("/api/v1/models/churn-rf/versions/", {"page_size": "x"}).status_code == 400
    last = dana.get("/api/v1/models/churn-rf/versions/", {"page_size": 2, "page": "last"}).json()
    assert [v["number"] for v in last["results"]] == [1]
    assert dana.get("/api/v1/models/churn-rf/versions/9/").status_code == 404


def test_hot_reads_cost_a_fixed_number_of_queries(api, world, django_assert_num_queries):
    dana = api("dana")
    dana.get("/api/v1/models/")  # the token's last_used_at is written once a minute: not counted below
    # token+user+roles; the model with its version numbers and tag names
    with django_assert_num_queries(2):
        dana.get("/api/v1/models/churn-rf/")
    # token; count; the page's models (with their tags) — whatever the page size
    with django_assert_num_queries(3):
        assert len(dana.get("/api/v1/models/", {"page_size": 100}).json()["results"]) == 3
    # filtered: token; count; the page's ids; the page's models
    with django_assert_num_queries(4):
        assert len(dana.get("/api/v1/models/", {"tag": "alpha"}).json()["results"]) == 1
    # token; the version; its datasets and tags (one query)
    with django_assert_num_queries(3):
        dana.get("/api/v1/models/churn-rf/versions/2/")
    # token; the page with the count beside it; their links (the model is looked up only when
    # there are none)
    with django_assert_num_queries(3):
        dana.get("/api/v1/models/churn-rf/versions/")
    # past the last page: token; the (empty) page; the count of its own; then 404
    with django_assert_num_queries(3):
        assert dana.get("/api/v1/models/churn-rf/versions/", {"page": 5}).status_code == 404
    # filtered: token; the model (404 when unknown); count; the page's ids; the versions; links
    with django_assert_num_queries(6):
        dana.get("/api/v1/models/churn-rf/versions/", {"stage": "production"})


@pytest.mark.parametrize("time_zone", ["UTC", "America/New_York"])
def test_timestamps_are_the_serializers_answer_on_whole_seconds_and_in_any_time_zone(api, world, settings, time_zone):
    """In UTC the database writes the timestamps (`_iso_sql`): ISO 8601 with `Z`, microseconds
    only when there are some, as DRF writes them; in another time zone DRF's own field does."""
    from datetime import UTC, datetime

    from registry.models import RegisteredModel

    settings.TIME_ZONE = time_zone
    whole, fraction = datetime(2026, 7, 1, 12, 0, 0, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, 60, tzinfo=UTC)
    RegisteredModel.objects.filter(name="churn-rf").update(created_at=whole, updated_at=fraction)
    ModelVersion.objects.filter(model__name="churn-rf", number=2).update(created_at=whole, status_checked_at=whole,
                                                                         updated_at=fraction)
    dana = api("dana")
    model = dana.get("/api/v1/models/churn-rf/")
    assert model.content == _render(_model_reference("churn-rf"))
    version = dana.get("/api/v1/models/churn-rf/versions/2/")
    assert version.content == _render(_version_reference("churn-rf", 2))
    listed = dana.get("/api/v1/models/").json()["results"]
    assert _render([m for m in listed if m["name"] == "churn-rf"][0]) == _render(_model_reference("churn-rf"))
    if time_zone == "UTC":
        assert model.json()["created_at"] == "2026-07-01T12:00:00Z"
        assert model.json()["updated_at"] == "2026-01-02T03:04:05.000060Z"
    else:
        assert model.json()["created_at"] == "2026-07-01T08:00:00-04:00"
