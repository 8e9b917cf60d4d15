"""The data scientists' pages: register a model and a version, request the next stage with the
checklist shown first, withdraw, upload experiment events. Each calls its service; each button
shows only to those the service accepts."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEvent
from governance.checklist import promotion_checklist
from governance.classification import classification_submit
from governance.models import PromotionRequest
from governance.promotions import promotion_request
from registry.models import ModelVersion, RegisteredModel

from .conftest import LOW_RISK_ANSWERS

pytestmark = pytest.mark.django_db


def test_data_scientist_registers_a_model_and_lands_on_its_version_form(browse, inventory):
    response = browse("dana").post(reverse("portal:model-new"), {
        "name": "churn-lr", "use_case": inventory["use_case"].pk, "description": "Churn", "tags": "churn, lr",
    })
    assert response.status_code == 302 and response["Location"] == reverse("portal:version-new", args=["churn-lr"])
    model = RegisteredModel.objects.get(name="churn-lr")
    assert sorted(model.tags.values_list("name", flat=True)) == ["churn", "lr"]
    assert AuditEvent.objects.filter(action="model.create", object_repr="churn-lr").exists()


def test_model_form_shows_the_services_refusal_on_the_field(browse, inventory):
    page = browse("dana").post(reverse("portal:model-new"), {"name": "credit-gbm", "use_case": inventory["use_case"].pk})
    assert page.status_code in (400, 409)  # refused: not a page that looks like success
    field_error = page.content.decode().split('id="id_name-error"')[1].split("</p>")[0]
    assert "already exists" in field_error  # next to the name, not only somewhere on the page
    assert RegisteredModel.objects.filter(name="credit-gbm").count() == 1


def test_auditors_and_risk_officers_cannot_register_models(browse, inventory):
    for who in ("audrey", "rita"):
        assert browse(who).get(reverse("portal:model-new")).status_code == 403
        response = browse(who).post(reverse("portal:model-new"), {"name": "x", "use_case": inventory["use_case"].pk})
        assert response.status_code == 403
    assert not RegisteredModel.objects.filter(name="x").exists()


def test_version_upload_stores_artifact_lineage_metrics_and_answers_json_to_xhr(browse, inventory):
    accounts, bureau = inventory["datasets"]
    response = browse("dana").post(
        reverse("portal:version-new", args=["credit-gbm"]),
        {
            "artifact": SimpleUploadedFile("model.pkl", b"weights-2"), "framework": "sklearn",
            "training_datasets": [accounts.pk, bureau.pk], "validation_datasets": [accounts.pk],
            "code_commit": "def5678", "metrics": "auc = 0.83\nrecall = 0.7", "params": "max_depth = 6\nloss = log\nearly = true",
            "tags": "candidate",
        },
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )
    assert response.status_code == 201
    assert response.json() == {"redirect": reverse("portal:version", args=["credit-gbm", 2])}
    version = ModelVersion.objects.get(model__name="credit-gbm", number=2)
    import hashlib

    assert version.sha256 == hashlib.sha256(b"weights-2").hexdigest() and version.size == 9
    assert version.metrics == {"auc": 0.83, "recall": 0.7}
    assert version.params == {"max_depth": 6, "loss": "log", "early": True}
    assert set(version.training_datasets.all()) == {accounts, bureau}
    assert list(version.validation_datasets.all()) == [accounts]


def test_version_form_without_artifact_returns_the_form_with_the_services_error(browse, inventory):
    response = browse("dana").post(
        reverse("portal:version-new", args=["credit-gbm"]), {"metrics": "auc = 0.8"}, HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )
    assert response.status_code == 400
    assert "Upload a file in" in response.json()["form"]
    assert ModelVersion.objects.filter(model__name="credit-gbm").count() == 1


def test_malformed_metrics_line_is_named(browse, inventory):
    response = browse("dana").post(reverse("portal:version-new", args=["credit-gbm"]), {
        "artifact": SimpleUploadedFile("m.bin", b"x"), "metrics": "auc 0.8",
    })
    assert response.status_code == 400 and "Line 1: write it as key = value." in response.content.decode()


def test_version_upload_over_the_limit_is_refused_before_storing(browse, inventory, settings):
    settings.ARTIFACT_MAX_BYTES = 10
    response = browse("dana").post(reverse("portal:version-new", args=["credit-gbm"]), {
        "artifact": SimpleUploadedFile("big.bin", b"x" * 100),
    })
    assert response.status_code == 413 and "exceeds the limit of 10 bytes" in response.content.decode()
    assert ModelVersion.objects.filter(model__name="credit-gbm").count() == 1


def test_others_cannot_add_versions_to_danas_model(browse, inventory):
    for who in ("sam", "audrey"):
        response = browse(who).post(reverse("portal:version-new", args=["credit-gbm"]), {
            "artifact": SimpleUploadedFile("m.bin", b"sneaky"),
        })
        assert response.status_code == 403
    assert ModelVersion.objects.filter(model__name="credit-gbm").count() == 1


def test_version_page_shows_the_checklist_before_the_request_exists(browse, inventory, cast):
    classification_submit(actor=cast["omar"], use_case=inventory["use_case"], answers=LOW_RISK_ANSWERS)
    url = reverse("portal:version", args=["credit-gbm", 1])
    page = browse("dana").get(url).content.decode()
    checklist = page.split('id="draft-checklist"')[1].split("</ul>")[0]
    assert "1 approval from anyone who may approve" in checklist and "approval(s)" not in checklist
    assert "Request QA" in page
    # Reading the checklist stored nothing.
    assert not PromotionRequest.objects.exists()
    # Nobody but the model's writers sees the button; auditors don't see the checklist.
    assert "Request QA" not in browse("sam").get(url).content.decode()
    assert 'id="draft-checklist"' not in browse("audrey").get(url).content.decode()


def test_checklist_preview_is_governances_checklist_for_the_target(inventory, cast):
    from portal.work_views import promotion_checklist_preview

    classification_submit(actor=cast["omar"], use_case=inventory["use_case"], answers=LOW_RISK_ANSWERS)
    items = {i["key"]: i for i in promotion_checklist_preview(version=inventory["version"], target_stage="production")}
    assert items["code_commit"]["met"] and items["code_commit"]["detail"] == "Commit abc1234."
    assert not items["approvals"]["met"]
    assert not PromotionRequest.objects.exists()
    # What the preview shows is what governance judges the real request by, item for item.
    preview = promotion_checklist_preview(version=inventory["version"], target_stage="qa")
    promotion = promotion_request(actor=cast["dana"], version=inventory["version"], target_stage="qa")
    judged = promotion_checklist(promotion=promotion)

    def essentials(checklist):
        return [(i["key"], i["met"], i.get("detail")) for i in checklist]

    assert essentials(preview) == essentials(judged) and preview


def test_unclassified_use_case_says_why_no_request_button(browse, inventory):
    page = browse("dana").get(reverse("portal:version", args=["credit-gbm", 1])).content.decode()
    assert "Classify the use case" in page and "Request QA" not in page


def test_request_and_withdraw_from_the_version_page(browse, inventory, cast):
    classification_submit(actor=cast["omar"], use_case=inventory["use_case"], answers=LOW_RISK_ANSWERS)
    client = browse("dana")
    response = client.post(reverse("portal:version-request", args=["credit-gbm", 1]), {"target_stage": "qa", "reason": "ready"})
    promotion = PromotionRequest.objects.get()
    assert response["Location"] == reverse("portal:promotion", args=[promotion.pk])
    assert promotion.requester == cast["dana"] and promotion.reason == "ready"
    page = client.get(reverse("portal:version", args=["credit-gbm", 1])).content.decode()
    assert f"Withdraw #{promotion.pk}" in page and "Request QA" not in page  # one open request per target
    # The approver sees no withdraw button, and cannot withdraw by posting.
    assert f"Withdraw #{promotion.pk}" not in browse("rita").get(reverse("portal:version", args=["credit-gbm", 1])).content.decode()
    browse("rita").post(reverse("portal:promotion-withdraw", args=[promotion.pk]))
    promotion.refresh_from_db()
    assert promotion.status == "open"
    response = client.post(reverse("portal:promotion-withdraw", args=[promotion.pk]), {"next": "https://evil.example/"})
    promotion.refresh_from_db()
    assert promotion.status == "withdrawn"
    # A "next" pointing off-site is not followed: back to the version page.
    assert response["Location"] == reverse("portal:version", args=["credit-gbm", 1])


def test_skipping_a_stage_is_refused_with_the_services_message(browse, inventory, cast):
    classification_submit(actor=cast["omar"], use_case=inventory["use_case"], answers=LOW_RISK_ANSWERS)
    client = browse("dana")
    client.post(reverse("portal:version-request", args=["credit-gbm", 1]), {"target_stage": "production"})
    assert not PromotionRequest.objects.exists()
    page = client.get(reverse("portal:version", args=["credit-gbm", 1])).content.decode()
    assert "stages cannot be skipped" in page


@pytest.fixture
def running_experiment(inventory, cast):
    """A running A/B test of credit-gbm v1 against v2 (binary goal metric), dana's."""
    from abtests import lifecycle as ab
    from registry import services as registry_services

    dana = cast["dana"]
    v2 = registry_services.model_version_register(actor=dana, model=inventory["model"], artifact_uri="s3://m/2", sha256="2" * 64)
    experiment = ab.experiment_create(
        actor=dana, model=inventory["model"], champion=inventory["version"], challengers=[v2], name="gbm-ab",
        test="two_proportion_z", metric_name="conversion", metric_type="binary", baseline=0.1, mde=0.05, daily_units=100.0,
    )
    return ab.experiment_start(actor=dana, experiment=experiment)


def test_events_upload_stores_a_batch(browse, running_experiment):
    arms = [a.name for a in running_experiment.arms.all()]
    body = f"unit_id,arm,value\nu1,{arms[0]},1\nu2,{arms[1]},0\n".encode()
    response = browse("dana").post(reverse("portal:experiment-events", args=[running_experiment.pk]), {
        "file": SimpleUploadedFile("events.csv", body),
    })
    assert response.status_code == 200 and "stored: 2 of 2 rows" in response.content.decode()


def test_events_upload_lists_the_rejected_rows_and_stores_nothing(browse, running_experiment):
    arm = running_experiment.arms.first().name
    body = f"unit_id,arm,value\nu1,{arm},1\nu2,nope,0\nu3,{arm},7\n".encode()
    response = browse("dana").post(reverse("portal:experiment-events", args=[running_experiment.pk]), {
        "file": SimpleUploadedFile("events.csv", io.BytesIO(body).read()),
    })
    page = response.content.decode()
    assert response.status_code == 400
    assert "row 2: arm: unknown arm" in page and "row 3: value: must be 0 or 1" in page
    assert not running_experiment.events.exists()


def test_events_upload_form_hidden_from_those_the_service_refuses(browse, running_experiment):
    url = reverse("portal:experiment-events", args=[running_experiment.pk])
    page = browse("sam").get(url).content.decode()
    assert "Upload events</button>" not in page
    arm = running_experiment.arms.first().name
    response = browse("sam").post(url, {"file": SimpleUploadedFile("e.csv", f"unit_id,arm,value\nu1,{arm},1\n".encode())})
    assert response.status_code == 403 and not running_experiment.events.exists()


def test_my_work_lists_models_requests_and_experiments(browse, running_experiment):
    page = browse("dana").get(reverse("portal:work")).content.decode()
    assert reverse("portal:version-new", args=["credit-gbm"]) in page
    assert reverse("portal:experiment-events", args=[running_experiment.pk]) in page
    assert f'{reverse("portal:signoffs")}#my-requests' in page


def test_signed_out_visitors_go_to_the_login_page(client, inventory):
    for url in (reverse("portal:version-new", args=["credit-gbm"]), reverse("portal:model-new"), reverse("portal:work")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url
    response = client.post(reverse("portal:version-new", args=["credit-gbm"]), {"artifact": SimpleUploadedFile("m.bin", b"x")})
    assert response.status_code == 302 and ModelVersion.objects.filter(model__name="credit-gbm").count() == 1
