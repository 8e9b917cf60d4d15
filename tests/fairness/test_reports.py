"""Bias reports through the services: upload validation, the worker, the gate, evidence lapses,
and who may do what."""

import pytest
from fairlearn.metrics import demographic_parity_difference

from audit.models import AuditEvent
from core.errors import Conflict, Forbidden, InvalidInput
from core.models import BackgroundJob
from fairness import services as fairness
from fairness.models import BiasReport, EvaluationSet
from fairness.tasks import bias_report_compute_task
from governance.checklist import promotion_checklist
from governance.policy import policy_update
from governance.promotions import promotion_request, signoff_approve
from governance.selectors import policy_current

from .conftest import csv_upload, evaluation_frame, parquet_upload


def bias_item(promotion):
    return next(i for i in promotion_checklist(promotion=promotion) if i["key"] == "bias_report")


def test_report_from_csv_matches_fairlearn_and_binds_both_hashes(governed, cast, compute):
    df = evaluation_frame()
    version = governed["version"]
    report = compute(actor=cast["dana"], version=version, upload=csv_upload(df))
    assert report.status == "completed" and report.passed is True
    assert report.artifact_sha256 == version.sha256
    assert report.evaluation_sha256 == report.evaluation_set.sha256 and report.evaluation_set.rows == len(df)
    expected = demographic_parity_difference(df["label"], df["prediction"], sensitive_features=df["gender"])
    got = report.results["attributes"]["gender"]["disparities"]["demographic_parity_difference"]["value"]
    assert got == pytest.approx(expected)
    assert report.thresholds["max_demographic_parity_difference"] == 0.1  # from the policy's params
    assert report.thresholds["min_demographic_parity_ratio"] == 0.8  # tier 1 default
    assert AuditEvent.objects.filter(action="bias_report.complete", object_id=str(report.pk)).exists()


def test_parquet_gives_the_same_report_as_csv(governed, cast, compute):
    df = evaluation_frame()
    a = compute(actor=cast["dana"], version=governed["version"], upload=csv_upload(df))
    b = compute(actor=cast["dana"], version=governed["version"], upload=parquet_upload(df))
    assert b.evaluation_set.format == "parquet"
    values = lambda r: {k: d["value"] for k, d in r.results["attributes"]["gender"]["disparities"].items()}  # noqa: E731
    assert values(a) == pytest.approx(values(b))  # same rows (the seeds differ with the files' bytes)


def test_bad_rows_are_rejected_with_their_row_numbers_and_nothing_is_stored(governed, cast):
    df = evaluation_frame(n=20).astype(str)
    df.loc[2, "prediction"] = "yes"  # row 3
    df.loc[6, "score"] = "1.7"  # row 7
    df.loc[9, "gender"] = ""  # row 10
    with pytest.raises(InvalidInput) as info:
        fairness.bias_report_request(actor=cast["dana"], version=governed["version"], upload=csv_upload(df))
    rows = info.value.fields["rows"]
    assert rows == ["row 3: prediction must be 0 or 1", "row 7: score must be a number from 0 to 1 or empty",
                    "row 10: gender is empty"]
    assert not EvaluationSet.objects.exists() and not BiasReport.objects.exists()


def test_a_missing_attribute_column_is_named(governed, cast):
    df = evaluation_frame(n=10).drop(columns=["gender"])
    with pytest.raises(InvalidInput) as info:
        fairness.bias_report_request(actor=cast["dana"], version=governed["version"], upload=csv_upload(df))
    assert info.value.fields["columns"] == ["Missing column(s): gender"]


def test_gate_fails_naming_group_and_metric_then_passes_on_a_fair_model(governed, cast, compute):
    version = governed["version"]
    promotion = promotion_request(actor=cast["dana"], version=version, target_stage="qa")
    assert "No computed bias report" in bias_item(promotion)["detail"]
    compute(actor=cast["dana"], version=version, upload=csv_upload(evaluation_frame(unfair=True)))
    promotion.refresh_from_db()
    assert promotion.status == "lapsed"  # the new report is evidence the request did not see
    promotion = promotion_request(actor=cast["dana"], version=version, target_stage="qa")
    item = bias_item(promotion)
    assert item["met"] is False
    assert "gender: Demographic parity difference" in item["detail"]
    assert "selection rate m" in item["detail"] and "vs f" in item["detail"]
    signoff_approve(promotion=promotion, actor=cast["rita"])
    version.refresh_from_db()
    assert version.stage == "development"  # approved, but the bias gate holds it back


def test_passing_report_lets_the_version_move(governed, cast, compute):
    version = governed["version"]
    compute(actor=cast["dana"], version=version, upload=csv_upload(evaluation_frame()))
    promotion = promotion_request(actor=cast["dana"], version=version, target_stage="qa")
    assert bias_item(promotion)["met"] is True
    signoff_approve(promotion=promotion, actor=cast["rita"])
    version.refresh_from_db()
    assert version.stage == "qa"


def test_replacing_a_failing_report_after_sign_off_lapses_the_sign_off(governed, cast, compute, make_user):
    """The owner cannot swap the evaluation set under an approval: the approval lapses."""
    version = governed["version"]
    compute(actor=cast["dana"], version=version, upload=csv_upload(evaluation_frame(unfair=True)))
    promotion = promotion_request(actor=cast["dana"], version=version, target_stage="qa")
    signoff_approve(promotion=promotion, actor=cast["rita"])
    promotion.refresh_from_db()
    assert promotion.status == "approved"
    compute(actor=cast["dana"], version=version, upload=csv_upload(evaluation_frame(seed=9)))
    promotion.refresh_from_db()
    assert promotion.status == "lapsed"
    assert promotion.signoffs.filter(lapsed_at__isnull=False).count() == 1
    version.refresh_from_db()
    assert version.stage == "development"


def test_report_judged_by_other_thresholds_does_not_meet_the_gate(governed, cast, compute):
    version = governed["version"]
    compute(actor=cast["dana"], version=version, upload=csv_upload(evaluation_frame()))
    data = policy_current().data
    data["tiers"]["1"]["bias_harm"][0]["params"]["max_demographic_parity_difference"] = 0.01
    policy_update(actor=cast["rita"], data=data)
    promotion = promotion_request(actor=cast["dana"], version=version, target_stage="qa")
    assert "other thresholds" in bias_item(promotion)["detail"]


def test_gate_requires_every_named_attribute(governed, cast, compute):
    version = governed["version"]
    compute(actor=cast["dana"], version=version, upload=csv_upload(evaluation_frame()))
    fairness.sensitive_attributes_set(actor=cast["dana"], use_case=governed["use_case"], attributes=["gender", "age_band"])
    promotion = promotion_request(actor=cast["dana"], version=version, target_stage="qa")
    assert bias_item(promotion)["detail"].endswith("does not cover: age_band")


def test_intersections_on_request(governed, cast, compute):
    fairness.sensitive_attributes_set(actor=cast["rita"], use_case=governed["use_case"], attributes=["gender", "age_band"],
                                      intersections=[["gender", "age_band"]])
    report = compute(actor=cast["dana"], version=governed["version"], upload=csv_upload(evaluation_frame()))
    assert set(report.results["attributes"]) == {"gender", "age_band", "gender × age_band"}
    assert len(report.results["attributes"]["gender × age_band"]["groups"]) == 6


def test_the_same_evaluation_set_gives_the_same_intervals(governed, cast, compute):
    df = evaluation_frame()
    a = compute(actor=cast["dana"], version=governed["version"], upload=csv_upload(df))
    b = compute(actor=cast["dana"], version=governed["version"], evaluation_set=a.evaluation_set)
    key = lambda r: r.results["attributes"]["gender"]["disparities"]  # noqa: E731
    assert a.seed == b.seed and key(a) == key(b)


def test_worker_delivered_twice_computes_once(governed, cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        report = fairness.bias_report_request(actor=cast["dana"], version=governed["version"], upload=csv_upload(evaluation_frame()))
    bias_report_compute_task(report.job_id)
    assert bias_report_compute_task(report.job_id).startswith("skipped")
    assert AuditEvent.objects.filter(action="bias_report.complete").count() == 1


@pytest.mark.parametrize("who", ["sam", "rita", "audrey", "nobody"])
def test_only_the_versions_owners_ask_for_reports(governed, cast, who):
    with pytest.raises(Forbidden):
        fairness.bias_report_request(actor=cast[who], version=governed["version"], upload=csv_upload(evaluation_frame(n=10)))
    assert AuditEvent.objects.filter(action="access.refused").exists()


def test_owner_may_add_attributes_but_not_remove_them(governed, cast):
    use_case = governed["use_case"]
    fairness.sensitive_attributes_set(actor=cast["dana"], use_case=use_case, attributes=["gender", "region"])
    with pytest.raises(Forbidden):
        fairness.sensitive_attributes_set(actor=cast["dana"], use_case=use_case, attributes=["region"])
    with pytest.raises(Forbidden):
        fairness.sensitive_attributes_set(actor=cast["sam"], use_case=use_case, attributes=["gender", "region", "x"])
    fairness.sensitive_attributes_set(actor=cast["rita"], use_case=use_case, attributes=["region"])
    assert fairness.attributes_for(use_case=use_case)[0] == ["region"]


def test_a_risk_officer_owning_the_use_case_cannot_remove_attributes(governed, cast):
    use_case = governed["use_case"]
    use_case.owner = cast["omar"]
    use_case.save(update_fields=["owner"])
    with pytest.raises(Forbidden):
        fairness.sensitive_attributes_set(actor=cast["omar"], use_case=use_case, attributes=[])


def test_no_attributes_named_means_no_report(inventory, cast):
    with pytest.raises(Conflict):
        fairness.bias_report_request(actor=cast["dana"], version=inventory["version"], upload=csv_upload(evaluation_frame(n=10)))


def test_model_card_shows_the_computed_report(governed, cast, compute):
    from governance.card import model_card_data, model_card_markdown

    compute(actor=cast["dana"], version=governed["version"], upload=csv_upload(evaluation_frame(unfair=True)))
    card = model_card_data(version=governed["version"])
    assert "judgement(s) fail" in card["computed_bias_report"]["summary"]
    assert "gender: Demographic parity difference" in model_card_markdown(card)


def test_an_evaluation_set_past_the_size_limit_is_refused(governed, cast, settings):
    settings.FAIRNESS_MAX_BYTES = 1000
    with pytest.raises(InvalidInput) as info:
        fairness.bias_report_request(actor=cast["dana"], version=governed["version"], upload=csv_upload(evaluation_frame(n=200)))
    assert "FAIRNESS_MAX_BYTES" in info.value.fields["file"][0]
    assert not EvaluationSet.objects.exists()


def test_a_report_that_cannot_be_computed_fails_once_and_is_audited_once(governed, cast, monkeypatch,
                                                                         django_capture_on_commit_callbacks):
    from fairness import tasks

    with django_capture_on_commit_callbacks(execute=False):
        report = fairness.bias_report_request(actor=cast["dana"], version=governed["version"], upload=csv_upload(evaluation_frame()))
    monkeypatch.setattr(tasks, "bias_report_compute", lambda **kw: (_ for _ in ()).throw(ValueError("row 7: label is 'maybe'")))
    assert tasks.bias_report_compute_task.apply(args=[report.job_id]).failed()  # eager: no retry for bad data
    assert bias_report_compute_task(report.job_id).startswith("skipped")
    report.refresh_from_db()
    job = BackgroundJob.objects.get(pk=report.job_id)
    assert report.status == "failed" and "label is 'maybe'" in report.error
    assert (job.status, job.attempts, job.message) == ("failed", 1, "Bias report failed: row 7: label is 'maybe'")
    assert AuditEvent.objects.filter(action="bias_report.fail", object_id=str(report.pk)).count() == 1
