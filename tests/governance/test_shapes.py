"""The policy and RACI shapes (governance.shapes): what they accept, what they refuse and under
which key, and that the API schema shows them."""

import copy

import pytest
import yaml
from django.core.management import call_command

from core.errors import InvalidInput
from governance import defaults
from governance.policy import policy_update
from governance.raci import raci_update
from governance.selectors import policy_current
from governance.shapes import RaciAssignmentsShape, RaciCellsShape, errors_of, policy_errors


def test_the_shipped_policy_and_raci_fit_their_shapes():
    assert policy_errors(defaults.POLICY) == {}
    assert errors_of(RaciCellsShape, defaults.RACI, path="cells") == {}


def _policy(**changes):
    data = copy.deepcopy(defaults.POLICY)
    for tier, consideration, measures in changes.pop("measures", []):
        data["tiers"][tier][consideration] = measures
    return {**data, **changes}


@pytest.mark.parametrize(("data", "key", "fragment"), [
    ([], "tiers", "An object mapping tiers"),
    ({"review_interval_days": {t: 30 for t in "1234"}}, "tiers", "An object mapping tiers"),
    (_policy(tiers={"1": {}, "2": {}, "3": {}}), "tiers.4", "Missing"),
    (_policy(measures=[("1", "astrology", [])]), "tiers.1.astrology", "Unknown consideration"),
    (_policy(measures=[("2", "sign_off", "1 approval")]), "tiers.2.sign_off", "list of measures"),
    (_policy(measures=[("2", "sign_off", [{"text": 5}])]), "tiers.2.sign_off", "needs a 'text'"),
    (_policy(measures=[("2", "sign_off", [{"text": " "}])]), "tiers.2.sign_off", "needs a 'text'"),
    (_policy(measures=[("3", "reproducibility", [{"text": "x", "gate": "code_commit", "params": []}])]),
     "tiers.3.reproducibility", "'params' an object"),
    (_policy(measures=[("3", "reproducibility", [{"text": "x", "gate": "code_commit", "stages": ["staging"]}])]),
     "tiers.3.reproducibility", "'stages' must be among"),
    (_policy(measures=[("3", "sign_off", [{"gate": "approvals", "params": {"role": "risk_officer", "count": True}}])]),
     "tiers.3.sign_off", "whole number of 1 or more"),
    (_policy(measures=[("3", "sign_off", [{"gate": "approvals", "params": {"role": "auditor"}}])]),
     "tiers.3.sign_off", "An approval comes from one of"),
    (_policy(review_interval_days={"1": 365, "2": 180, "3": 90, "4": "30"}), "review_interval_days", "positive integers"),
    (_policy(review_interval_days={"1": 365, "2": 180, "3": 90}), "review_interval_days", "positive integers"),
    (_policy(signoff_due_days={"1": 10, "2": 7, "3": 5, "4": 0}), "signoff_due_days", "sign-off is due"),
])
def test_a_bad_policy_is_refused_naming_the_part(cast, data, key, fragment):
    with pytest.raises(InvalidInput) as exc:
        policy_update(actor=cast["rita"], data=data)
    assert any(fragment in message for message in exc.value.fields[key]), exc.value.fields
    assert policy_current().number == 1


def test_a_valid_policy_is_stored_as_sent_with_generated_texts(cast):
    data = _policy(signoff_due_days=None, note="kept")
    data["tiers"]["1"]["sign_off"] = [{"gate": "approvals", "params": {"role": "any", "count": 2}, "stages": ["qa"]}]
    stored = policy_update(actor=cast["rita"], data=data).data
    assert stored["note"] == "kept" and stored["signoff_due_days"] is None
    assert stored["tiers"]["1"]["sign_off"] == [{"gate": "approvals", "params": {"role": "any", "count": 2}, "stages": ["qa"],
                                                 "text": "2 approvals from different people for QA"}]


def test_raci_shapes_name_the_row_or_role():
    cells = copy.deepcopy(defaults.RACI)
    cells["deployments"] = "A/R"
    del cells["monitoring"]
    cells["horoscope"] = {}
    assert errors_of(RaciCellsShape, cells, path="cells") == {
        "cells.deployments": ["Missing task row."],
        "cells.monitoring": ["Missing task row."],
        "cells.horoscope": ["Unknown task."],
    }
    assert errors_of(RaciCellsShape, ["A"], path="cells") == {"cells": ["An object mapping tasks to {role: letter}."]}
    assert errors_of(RaciAssignmentsShape, {"risk_audit": "rita", "data_ops": ["ok", 3], "wizard": []},
                     path="assignments") == {
        "assignments.risk_audit": ["A list of usernames."],
        "assignments.data_ops": ["A list of usernames."],
        "assignments.wizard": ["Unknown RACI role."],
    }


def test_a_bad_raci_stores_nothing(inventory, cast):
    with pytest.raises(InvalidInput) as exc:
        raci_update(actor=cast["rita"], use_case=inventory["use_case"], assignments=["rita"])
    assert exc.value.fields == {"assignments": ["An object mapping RACI roles to lists of usernames."]}
    assert not hasattr(inventory["use_case"], "raci") or inventory["use_case"].raci.pk is None


def test_the_api_schema_shows_the_policy_and_raci_shapes(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--file", str(out))
    components = yaml.safe_load(out.read_text())["components"]["schemas"]

    def ref(prop):  # the component a property refers to (directly, or with a description: allOf)
        return components[(prop.get("$ref") or prop["allOf"][0]["$ref"]).rsplit("/", 1)[1]]["properties"]

    shape = ref(components["PolicyInputRequest"]["properties"]["data"])
    assert set(shape) == {"tiers", "review_interval_days", "signoff_due_days"}
    assert set(ref(shape["tiers"])) == {"1", "2", "3", "4"}
    cells = ref(components["RaciRequest"]["properties"]["cells"])
    assert set(cells) == set(defaults.RACI_TASKS)
    assert ref(cells["deployments"])["production"]["pattern"] == "^(|R|A|C|I|A/R)$"
    assert set(ref(components["RaciRequest"]["properties"]["assignments"])) == set(defaults.RACI_ROLES)
