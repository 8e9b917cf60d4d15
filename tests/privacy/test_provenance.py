"""Provenance fields and dataset lineage: derived_from, no cycles, frozen once evidence."""

import pytest

from core.errors import Conflict, InvalidInput
from registry import services as reg

pytestmark = pytest.mark.django_db


def test_lineage_up_and_down_over_three_levels(world, api):
    body = api("audrey").get(f"/api/v1/datasets/{world['features'].pk}/lineage/").json()
    assert [(n["name"], n["level"]) for n in body["ancestors"]] == [("cleaned", 1), ("raw", 2)]
    assert [(n["name"], n["level"]) for n in body["descendants"]] == [("sample", 1)]
    assert body["dataset"]["derived_from"] == [world["cleaned"].pk]


def test_provenance_fields_round_trip_over_the_api(world, api):
    r = api("dana").post("/api/v1/datasets/", {
        "name": "joined", "version": "1", "source_uri": "s3://j", "collection_method": "Join of raw and other",
        "personal_data_categories": ["contact"], "contains_personal_data": True, "legal_basis": "contract",
        "retention_until": "2030-01-01", "derived_from": [world["raw"].pk, world["other"].pk]}, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["collection_method"] == "Join of raw and other" and body["personal_data_categories"] == ["contact"]
    assert sorted(body["derived_from"]) == sorted([world["raw"].pk, world["other"].pk])


def test_a_cycle_is_refused_with_a_field_error(world, cast):
    fresh = world["ds"]("fresh")
    with pytest.raises(InvalidInput) as exc:
        reg.dataset_update(actor=cast["dana"], dataset=fresh, derived_from=[fresh])
    assert "derived_from" in exc.value.fields
    # An unreferenced chain a → b (b derived from a), then a derived from b closes a cycle.
    a = world["ds"]("a")
    b = world["ds"]("b", [a])
    with pytest.raises(InvalidInput) as exc:
        reg.dataset_update(actor=cast["dana"], dataset=a, derived_from=[b])
    assert "cycle" in exc.value.fields["derived_from"][0]
    assert list(a.derived_from.all()) == []


def test_cycle_over_the_api_answers_400_on_the_field(world, api):
    a = world["ds"]("a")
    b = world["ds"]("b", [a])
    r = api("dana").patch(f"/api/v1/datasets/{a.pk}/", {"derived_from": [b.pk]}, format="json")
    assert r.status_code == 400 and "derived_from" in r.json()["errors"]


def test_referenced_dataset_is_frozen_for_provenance_and_lineage(world, cast):
    sample = world["sample"]  # credit-gbm v1 trained on it
    for change in ({"collection_method": "changed"}, {"personal_data_categories": ["health"]},
                   {"derived_from": [world["raw"]]}):
        with pytest.raises(Conflict) as exc:
            reg.dataset_update(actor=cast["dana"], dataset=sample, **change)
        assert exc.value.code == "dataset_frozen"


def test_retention_of_evidence_may_come_earlier_never_later(world, cast):
    """Postponing a retention date would postpone the obligations its passing opens."""
    from datetime import date

    sample = world["sample"]
    reg.dataset_update(actor=cast["dana"], dataset=sample, retention_until=date(2031, 1, 1))  # none before: allowed
    reg.dataset_update(actor=cast["dana"], dataset=sample, retention_until=date(2030, 1, 1))
    with pytest.raises(Conflict):
        reg.dataset_update(actor=cast["dana"], dataset=sample, retention_until=date(2032, 1, 1))
    with pytest.raises(Conflict):
        reg.dataset_update(actor=cast["dana"], dataset=sample, retention_until=None)
    sample.refresh_from_db()
    assert sample.retention_until == date(2030, 1, 1)


def test_dataset_page_shows_lineage_up_and_down(world, cast, client):
    client.force_login(cast["audrey"])
    body = client.get(f"/datasets/{world['cleaned'].pk}/").content.decode()
    assert "raw@1" in body and "features@1" in body and "sample@1" in body
    assert "Branch application forms" not in body  # that is raw's, not cleaned's
    body = client.get(f"/datasets/{world['raw'].pk}/").content.decode()
    assert "Branch application forms" in body and "contact, financial" in body and "2 key(s)" in body


def test_the_owner_may_flag_automated_decisions_but_not_clear_the_flag(world, cast, api):
    """The flag sends objections to human review: the governed may not switch it off."""
    from core.errors import Forbidden

    use_case = world["use_case"]
    with pytest.raises(Forbidden):
        reg.use_case_update(actor=cast["dana"], use_case=use_case, automated_decisions=False)
    use_case.refresh_from_db()
    assert use_case.automated_decisions is True
    r = api("dana").patch(f"/api/v1/use-cases/{use_case.pk}/", {"automated_decisions": False}, format="json")
    assert r.status_code == 403
    reg.use_case_update(actor=cast["rita"], use_case=use_case, automated_decisions=False)
    reg.use_case_update(actor=cast["dana"], use_case=use_case, automated_decisions=True, human_review_route="Call 555")
    use_case.refresh_from_db()
    assert use_case.automated_decisions and use_case.human_review_route == "Call 555"
