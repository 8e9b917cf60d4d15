"""`GET /api/v1/audit/events/`: filters, newest first, constant query count."""

from datetime import timedelta

import pytest

from audit.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(cast, frozen, jan):
    """Six events on three days by dana, sam and the system, on two objects."""
    with frozen(jan(1)):
        audit_record(action="model.create", actor=cast["dana"], object_type="registry.registeredmodel", object_id="1")
        audit_record(action="model.update", actor=cast["sam"], object_type="registry.registeredmodel", object_id="1")
    with frozen(jan(2)):
        audit_record(action="dataset.create", actor=cast["dana"], object_type="registry.dataset", object_id="1")
        audit_record(action="model.update", actor=cast["dana"], object_type="registry.registeredmodel", object_id="2")
    with frozen(jan(3)):
        audit_record(action="dataset.update", actor=cast["sam"], object_type="registry.dataset", object_id="1")
        audit_record(action="system.tick", object_type="", object_id="")


def _get(api, query):
    response = api("audrey").get("/api/v1/audit/events/", query)
    assert response.status_code == 200, response.content
    return [(e["action"], e["actor_username"], e["object_type"], e["object_id"]) for e in response.json()["results"]]


def test_newest_first(api, trail):
    body = api("audrey").get("/api/v1/audit/events/", {"action_prefix": "model."}).json()
    seqs = [e["seq"] for e in body["results"]]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == 3


def test_filter_by_actor(api, trail):
    assert _get(api, {"actor": "sam"}) == [
        ("dataset.update", "sam", "registry.dataset", "1"),
        ("model.update", "sam", "registry.registeredmodel", "1"),
    ]


def test_filter_by_object(api, trail):
    assert _get(api, {"object_type": "registry.registeredmodel", "object_id": "1"}) == [
        ("model.update", "sam", "registry.registeredmodel", "1"),
        ("model.create", "dana", "registry.registeredmodel", "1"),
    ]
    assert [row[0] for row in _get(api, {"object_type": "registry.dataset"})] == ["dataset.update", "dataset.create"]


def test_filter_by_action_and_prefix(api, trail):
    assert [row[3] for row in _get(api, {"action": "model.update"})] == ["2", "1"]
    assert [row[0] for row in _get(api, {"action_prefix": "dataset."})] == ["dataset.update", "dataset.create"]


def test_filter_by_date_range(api, trail, jan):
    # `since` is inclusive, `until` exclusive: exactly the events of January 2.
    query = {"since": jan(2).isoformat(), "until": (jan(2) + timedelta(seconds=1)).isoformat()}
    assert [row[0] for row in _get(api, query)] == ["model.update", "dataset.create"]
    assert [row[0] for row in _get(api, {"since": jan(3).isoformat(), "until": jan(4).isoformat()})] == [
        "system.tick", "dataset.update",
    ]
    assert [row[0] for row in _get(api, {"until": jan(2).isoformat(), "actor": "dana"})] == ["model.create"]


def test_bad_date_is_400(api, cast):
    response = api("audrey").get("/api/v1/audit/events/", {"since": "soon"})
    assert response.status_code == 400
    assert "since" in response.json()["errors"]


@pytest.mark.parametrize("n", [5, 50])
def test_list_runs_in_constant_queries(api, cast, django_assert_num_queries, n):
    for i in range(n):
        audit_record(action="test.event", actor=cast["dana"], object_type="x", object_id=str(i))
    client = api("audrey")
    client.get("/api/v1/audit/events/")  # the token's first use stamps last_used_at; not counted
    # 1 token with its user and roles, 2-3 the user's own and group permissions (may they see
    # sign-ins and IP addresses?), 4 count for the page, 5 the page of events.
    with django_assert_num_queries(5):
        response = client.get("/api/v1/audit/events/", {"page_size": 100})
    assert len(response.json()["results"]) >= n
