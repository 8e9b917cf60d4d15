import pytest

from audit.models import AuditEvent
from core.errors import Conflict, Forbidden, InvalidInput
from governance import defaults, scoring
from governance.classification import (
    classification_override,
    classification_submit,
    scoring_scheme_update,
)
from governance.models import Classification
from governance.selectors import classification_current, policy_current, scheme_current

from .conftest import answers


def test_all_low_answers_give_tier_1():
    result = scoring.compute_tier(defaults.QUESTIONNAIRE, answers())
    assert (result.tier, result.score, result.drivers) == (1, 0, [])


def test_scores_add_up_to_tier_2_and_name_the_answers():
    result = scoring.compute_tier(defaults.QUESTIONNAIRE, answers(personal_data="yes", consumers="internal", availability="batch"))
    assert result.tier == 2 and result.score == 4
    assert {d["question"] for d in result.drivers} == {"personal_data", "consumers", "availability"}


def test_a_floor_answer_forces_the_tier_and_is_the_driver():
    result = scoring.compute_tier(defaults.QUESTIONNAIRE, answers(availability="realtime"))
    assert result.tier == 4
    assert result.drivers[0]["question"] == "availability"


def test_high_score_reaches_tier_4():
    high = {q["key"]: q["choices"][-1]["key"] for q in defaults.QUESTIONNAIRE["questions"]}
    assert scoring.compute_tier(defaults.QUESTIONNAIRE, high).tier == 4


def test_unknown_and_missing_answers_are_field_errors():
    errors = scoring.validate_answers(defaults.QUESTIONNAIRE, {"regulation": "martian", "colour": "red"})
    assert "Unknown answer" in errors["regulation"][0]
    assert errors["colour"] == ["Unknown question."]
    assert "Required" in errors["personal_data"][0]


def test_submit_stores_classification_with_ethics_and_audits(inventory, cast):
    uc = inventory["use_case"]
    c = classification_submit(
        actor=cast["rita"], use_case=uc, answers=answers(error_impact="legal"),
        ethics={"accountability": "The credit committee"},
    )
    assert c.tier == 3 and c.ethics == {"accountability": "The credit committee"}
    event = AuditEvent.objects.filter(action="classification.submit").latest("seq")
    assert event.changes["tier"] == {"before": None, "after": 3}


def test_submit_rejects_bad_answers_and_keeps_nothing(inventory, cast):
    with pytest.raises(InvalidInput) as exc:
        classification_submit(actor=cast["dana"], use_case=inventory["use_case"], answers={"regulation": "x"},
                              ethics={"mood": "?"})
    assert "answers.regulation" in exc.value.fields and "ethics.mood" in exc.value.fields
    assert not Classification.objects.exists()


def test_only_owner_or_risk_officer_classifies(inventory, cast):
    for who in ("sam", "audrey", "nobody"):
        with pytest.raises(Forbidden):
            classification_submit(actor=cast[who], use_case=inventory["use_case"], answers=answers())


def test_override_needs_risk_officer_and_justification_and_keeps_history(tier1, cast):
    uc = tier1["use_case"]
    with pytest.raises(Forbidden):
        classification_override(actor=cast["dana"], use_case=uc, tier=3, justification="because")
    with pytest.raises(InvalidInput) as exc:
        classification_override(actor=cast["rita"], use_case=uc, tier=3, justification="  ")
    assert "justification" in exc.value.fields
    c = classification_override(actor=cast["rita"], use_case=uc, tier=3, justification="Feeds regulatory reporting")
    assert (c.tier, c.computed_tier) == (3, 1)
    assert classification_current(use_case=uc).tier == 3
    assert uc.classifications.count() == 2
    event = AuditEvent.objects.filter(action="classification.override").latest("seq")
    assert event.actor_username == "rita" and event.changes["tier"] == {"before": 1, "after": 3}


def test_override_before_classification_conflicts(inventory, cast):
    with pytest.raises(Conflict):
        classification_override(actor=cast["rita"], use_case=inventory["use_case"], tier=2, justification="x")


def test_scoring_scheme_is_versioned_data(inventory, cast):
    scheme = scheme_current().data
    scheme["thresholds"] = [{"tier": 4, "min_score": 0}]
    with pytest.raises(Forbidden):
        scoring_scheme_update(actor=cast["dana"], data=scheme)
    with pytest.raises(InvalidInput):
        scoring_scheme_update(actor=cast["rita"], data={"questions": []})
    v2 = scoring_scheme_update(actor=cast["rita"], data=scheme)
    assert v2.number == 2
    c = classification_submit(actor=cast["rita"], use_case=inventory["use_case"], answers=answers())
    assert c.tier == 4 and c.scheme == v2


def test_a_policy_made_from_the_defaults_never_edits_the_shipped_defaults(cast):
    """A flushed table gets the defaults as version 1; editing that row's data for a new version
    (as the policy editor does) must leave the defaults that the next empty table gets alone."""
    import copy

    from governance import defaults
    from governance.models import Policy, ScoringScheme

    shipped = copy.deepcopy(defaults.POLICY)
    Policy.objects.all().delete()
    ScoringScheme.objects.all().delete()
    data = policy_current().data
    data["tiers"]["1"]["bias_harm"] = [{"text": "Bias report", "gate": "bias_report", "stages": ["qa"]}]
    scheme_current().data["questions"] = []
    assert defaults.POLICY == shipped and defaults.QUESTIONNAIRE["questions"]
