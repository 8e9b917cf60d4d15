"""The portal's forms parse what was typed and say what is wrong next to the input; nothing is
stored from a form that does not parse, and the service's own refusals land on the form too."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

import governance.classification
import governance.selectors
from governance.models import Classification, GateException, Policy, RaciMatrix
from monitoring import services as monitoring
from monitoring.models import Monitor

from .conftest import LOW_RISK_ANSWERS

pytestmark = pytest.mark.django_db


def test_an_answer_outside_the_questionnaire_is_flagged_at_its_question(browse, inventory):
    url = reverse("portal:classification", args=[inventory["use_case"].pk])
    answers = {f"q-{k}": v for k, v in {**LOW_RISK_ANSWERS, "decay": "glacial"}.items()}
    response = browse("rita").post(url, answers)
    assert response.status_code == 400
    body = response.content.decode()
    error = body.split('id="err-decay"')[1].split("</p>")[0]
    assert "glacial is not one of the available choices" in error
    assert 'value="slow" checked' not in body  # nothing pretends the answer was kept
    assert not Classification.objects.exists()


def test_override_without_a_tier_is_refused_at_the_tier(browse, inventory, cast):
    uc = inventory["use_case"]
    governance.classification.classification_submit(actor=cast["omar"], use_case=uc, answers=LOW_RISK_ANSWERS)
    response = browse("rita").post(reverse("portal:classification-override", args=[uc.pk]),
                                   {"tier": "9", "justification": "regulator"})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="err-tier"' in body and "9 is not one of the available choices" in body
    assert "regulator</textarea>" in body  # the justification is shown again as typed
    assert governance.selectors.classification_current(use_case=uc).tier == 1


def test_a_raci_value_outside_the_letters_is_flagged_on_its_row(browse, inventory):
    uc = inventory["use_case"]
    form = {f"cell-{task}-{role}": value for task, row in governance.selectors.raci_for(use_case=uc).cells.items()
            for role, value in row.items()}
    form["cell-deployments-risk_audit"] = "X"
    response = browse("rita").post(reverse("portal:raci", args=[uc.pk]), form)
    assert response.status_code == 400
    row = response.content.decode().split('id="task-deployments"')[1].split("</tr>")[0]
    assert "X is not one of the available choices" in row
    assert not RaciMatrix.objects.exists()


def test_a_count_that_is_not_a_number_is_named_with_its_measure(browse):
    policy = governance.selectors.policy_current()
    url = reverse("portal:policy-cell", args=[1, "sign_off"])
    form = {"base": str(policy.number), "rows": "1", "text-0": "", "gate-0": "approvals", "role-0": "any",
            "count-0": "two", "stages-0": "production"}
    response = browse("rita").post(url, form)
    assert response.status_code == 400
    errors = response.content.decode().split('id="cell-errors"')[1].split("</div>")[0]
    assert "Measure 1, count: Enter a whole number." in errors
    assert Policy.objects.count() == 1


def test_an_incomplete_exception_is_shown_on_the_card_next_to_its_fields(browse, inventory):
    url = reverse("portal:gate-exception-grant", args=["credit-gbm", 1])
    expires = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = browse("rita").post(url, {"gate": "model_card", "justification": "", "expires_at": expires})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Model card" in body  # the card again, not a redirect
    error = body.split('id="id_justification_error"')[1].split("</ul>")[0]  # Django's own error list
    assert "This field is required." in error and 'aria-describedby="id_justification_error"' in body
    assert not GateException.objects.exists()
    # The service's own refusal is the page's answer too: a data scientist grants nothing.
    refused = browse("dana").post(url, {"gate": "model_card", "justification": "mine", "expires_at": expires})
    assert refused.status_code == 403 and "Only risk officers grant exceptions to a gate." in refused.content.decode()
    assert not GateException.objects.exists()


def test_a_schedule_that_is_not_a_number_keeps_the_schedule(browse, inventory):
    version = inventory["version"]
    url = reverse("portal:version-monitoring-schedule", args=["credit-gbm", 1])
    client = browse("dana")
    client.post(url, {"schedule_minutes": "30", "window_hours": "6"})
    assert monitoring.monitor_of(version).schedule_minutes == 30
    # Before forms, anything but digits read as "empty" and switched the schedule off.
    response = client.post(url, {"schedule_minutes": "half an hour", "window_hours": "6"}, follow=True)
    assert "Enter a whole number." in response.content.decode()
    assert Monitor.objects.get(version=version).schedule_minutes == 30


def test_monitoring_forms_return_to_the_monitoring_page_whatever_next_says(browse, inventory):
    url = reverse("portal:version-monitoring-check", args=["credit-gbm", 1])
    response = browse("dana").post(url, {"next": "https://evil.example/phish"})
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:version-monitoring", args=["credit-gbm", 1])
