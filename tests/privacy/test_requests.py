"""Data-subject requests: impact through lineage and key index, obligations to closure both
ways, the governed never closing their own, objections, retention, auditors read-only."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from core.errors import Conflict, Forbidden, InvalidInput
from governance.checklist import promotion_checklist
from governance.gate_exceptions import gate_exception_grant
from governance.policy import policy_update
from governance.promotions import promotion_complete, promotion_request, signoff_approve
from governance.raci import raci_update
from governance.selectors import policy_current
from privacy import services as privacy
from privacy.models import Obligation, SubjectRequest
from registry import services as reg

from .conftest import sha

pytestmark = pytest.mark.django_db


def test_impact_through_three_levels_of_derivation_and_the_key_index(erasure, world):
    impact = erasure.impact
    how = {d["name"]: (d["how"], d["level"]) for d in impact["datasets"]}
    assert how == {"raw": ("key_index", 0), "cleaned": ("derived", 1), "features": ("derived", 2), "sample": ("derived", 3)}
    # credit-gbm trained on sample (3 levels down), churn-lr validated on cleaned; fraud-nn untouched.
    assert [(v["model"], v["number"], v["stage"]) for v in impact["versions"]] == [
        ("churn-lr", 1, "development"), ("credit-gbm", 1, "development")]
    assert impact["stages"] == {"development": 2}
    assert not SubjectRequest.objects.filter(subject_hash__icontains="alice").exists()


def test_a_subject_in_no_index_touches_nothing_but_named_datasets_do(world, cast):
    nobody = privacy.subject_request_create(actor=cast["rita"], kind="access", subject_key="zoe")
    assert nobody.impact["datasets"] == [] and nobody.impact["versions"] == []
    named = privacy.subject_request_create(actor=cast["rita"], kind="access", datasets=[world["features"]])
    assert [d["name"] for d in named.impact["datasets"]] == ["features", "sample"]
    assert [v["model"] for v in named.impact["versions"]] == ["credit-gbm"]


def test_carol_reaches_every_model_using_other(world, cast):
    req = privacy.subject_request_create(actor=cast["rita"], kind="restriction", subject_key="carol")
    assert sorted(v["model"] for v in req.impact["versions"]) == ["churn-lr", "credit-gbm", "fraud-nn"]
    assert not req.obligations.exists()  # only erasure opens obligations


def test_erasure_opens_one_obligation_per_affected_model_due_by_policy(erasure, cast):
    obligations = list(erasure.obligations.order_by("model__name"))
    assert [o.model.name for o in obligations] == ["churn-lr", "credit-gbm"]
    assert all(o.due_date == timezone.localdate() + timedelta(days=privacy.DEFAULT_DUE_DAYS) for o in obligations)
    data = policy_current().data
    data["privacy_obligation_due_days"] = {"1": 10, "2": 10, "3": 10, "4": 10}
    policy_update(actor=cast["rita"], data=data, comment="privacy due days")
    again = privacy.subject_request_create(actor=cast["rita"], kind="erasure", subject_key="bob")
    assert {o.due_date for o in again.obligations.all()} == {timezone.localdate() + timedelta(days=10)}
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"subject_request.create", "obligation.open", "subject_keys.upload"} <= actions


def test_only_risk_officers_and_admins_record_requests(world, cast):
    for who in ("dana", "sam", "audrey", "nobody"):
        with pytest.raises(Forbidden):
            privacy.subject_request_create(actor=cast[who], kind="erasure", subject_key="alice")
    with pytest.raises(InvalidInput):
        privacy.subject_request_create(actor=cast["rita"], kind="erasure")
    privacy.subject_request_create(actor=cast["root"], kind="access", subject_key="alice")


def _retrain(world, cast, training, number_hint="c2"):
    return reg.model_version_register(actor=cast["dana"], model=world["credit"], artifact_uri=f"s3://m/{number_hint}",
                                      sha256=sha(number_hint), training_datasets=training, code_commit="abc1234")


def test_closure_by_retraining_on_data_without_the_subject(erasure, world, cast):
    obligation = erasure.obligations.get(model=world["credit"])
    tainted = _retrain(world, cast, [world["sample"]], "c2")
    with pytest.raises(InvalidInput) as exc:
        privacy.obligation_close_retrained(actor=cast["dana"], obligation=obligation, version=tainted)
    assert "sample@1" in exc.value.fields["version"][0]
    # A new dataset derived from affected data is affected too, though it was registered later.
    derived_later = world["ds"]("sample-v2", [world["features"]])
    with pytest.raises(InvalidInput):
        privacy.obligation_close_retrained(actor=cast["dana"], obligation=obligation,
                                           version=_retrain(world, cast, [derived_later], "c3"))
    # A fresh extract that lists alice in its own key index is refused as well.
    relisted = world["ds"]("raw-2")
    from .conftest import keys_file

    privacy.subject_keys_upload(actor=cast["dana"], dataset=relisted, fileobj=keys_file("alice"))
    with pytest.raises(InvalidInput):
        privacy.obligation_close_retrained(actor=cast["dana"], obligation=obligation,
                                           version=_retrain(world, cast, [relisted], "c4"))
    clean = world["ds"]("raw-without-alice")
    privacy.subject_keys_upload(actor=cast["dana"], dataset=clean, fileobj=keys_file("bob"))
    good = _retrain(world, cast, [clean], "c5")
    closed = privacy.obligation_close_retrained(actor=cast["dana"], obligation=obligation, version=good)
    assert closed.status == Obligation.Status.RETRAINED and closed.retrained_version == good
    assert AuditEvent.objects.filter(action="obligation.close", object_id=str(obligation.pk)).exists()


def test_risk_acceptance_needs_the_accountable_and_a_risk_officer(erasure, world, cast):
    obligation = erasure.obligations.get(model=world["credit"])
    # The governed (model and use case owner, version creator) never sign, nor do auditors.
    for who in ("dana", "audrey", "nobody"):
        with pytest.raises(Forbidden):
            privacy.obligation_sign(actor=cast[who], obligation=obligation, statement="fine")
    privacy.obligation_sign(actor=cast["rita"], obligation=obligation, statement="Low residual risk")
    obligation.refresh_from_db()
    assert obligation.status == Obligation.Status.OPEN
    with pytest.raises(Conflict):  # the same person twice
        privacy.obligation_sign(actor=cast["rita"], obligation=obligation, statement="again")
    with pytest.raises(Conflict):  # a second risk officer is not the Accountable
        privacy.obligation_sign(actor=cast["omar"], obligation=obligation, statement="me too")
    with pytest.raises(InvalidInput):
        privacy.obligation_sign(actor=cast["sam"], obligation=obligation, statement="  ")
    privacy.obligation_sign(actor=cast["sam"], obligation=obligation, statement="Accepted for the business")
    obligation.refresh_from_db()
    assert obligation.status == Obligation.Status.ACCEPTED
    assert sorted(obligation.signatures.values_list("signer__username", "capacity")) == [
        ("rita", "risk_officer"), ("sam", "accountable")]
    with pytest.raises(Conflict):
        privacy.obligation_sign(actor=cast["omar"], obligation=obligation, statement="late")


def test_the_governed_cannot_close_their_obligation_even_as_accountable(erasure, world, cast):
    """dana owns the model; made Accountable she still cannot sign, nor close by saying so."""
    raci_update(actor=cast["omar"], use_case=world["use_case"], assignments={"risk_audit": ["dana"]})
    obligation = erasure.obligations.get(model=world["credit"])
    with pytest.raises(Forbidden):
        privacy.obligation_sign(actor=cast["dana"], obligation=obligation, statement="mine")
    with pytest.raises(InvalidInput):  # an affected version does not close it
        privacy.obligation_close_retrained(actor=cast["dana"], obligation=obligation, version=world["v"]["credit"])
    with pytest.raises(Forbidden):  # someone else's data scientist cannot record a retraining either
        privacy.obligation_close_retrained(actor=cast["sam"], obligation=obligation, version=world["v"]["credit"])


def test_objection_is_recorded_against_automated_use_cases_with_the_review_route(world, cast):
    req = privacy.subject_request_create(actor=cast["rita"], kind="objection", subject_key="alice")
    assert [(o.use_case.name, o.human_review_route) for o in req.objections.all()] == [
        ("Credit limits", "Write to reviews@bank.example; a credit officer decides.")]
    assert not req.obligations.exists()


def test_passed_retention_opens_the_same_obligations_once(world, cast):
    from privacy.tasks import retention_obligations_task

    reg.dataset_update(actor=cast["dana"], dataset=world["cleaned"], retention_until=date(2020, 1, 1))
    first = privacy.retention_obligations_open()
    assert sorted(o.model.name for o in first) == ["churn-lr", "credit-gbm"]
    assert privacy.retention_obligations_open() == []
    assert retention_obligations_task() == 0
    assert Obligation.objects.filter(source="retention").count() == 2


def _overdue(obligation):
    Obligation.objects.filter(pk=obligation.pk).update(due_date=timezone.localdate() - timedelta(days=1))


def test_an_overdue_obligation_blocks_promotion_and_a_closed_one_does_not(erasure, world, cast):
    version = world["v"]["credit"]
    obligation = erasure.obligations.get(model=world["credit"])
    promotion = promotion_request(actor=cast["dana"], version=version, target_stage="qa")
    assert all(i["key"] != "privacy_obligations" for i in promotion_checklist(promotion=promotion))  # not yet due
    _overdue(obligation)
    items = {i["key"]: i for i in promotion_checklist(promotion=promotion)}
    assert items["privacy_obligations"]["met"] is False and f"#{obligation.pk}" in items["privacy_obligations"]["detail"]
    signoff_approve(promotion=promotion, actor=cast["rita"], comment="ok")
    version.refresh_from_db()
    assert version.stage == "development"
    with pytest.raises(Conflict):
        promotion_complete(promotion=promotion, actor=cast["dana"])
    # No exception waives it.
    with pytest.raises(InvalidInput):
        gate_exception_grant(actor=cast["omar"], gate="privacy_obligations", version=version, justification="x",
                             expires_at=timezone.now() + timedelta(days=1))
    privacy.obligation_sign(actor=cast["rita"], obligation=obligation, statement="Residual risk low")
    privacy.obligation_sign(actor=cast["sam"], obligation=obligation, statement="Accepted")
    promotion_complete(promotion=promotion, actor=cast["dana"])
    version.refresh_from_db()
    assert version.stage == "qa"


def test_archiving_is_never_blocked(erasure, world, cast):
    _overdue(erasure.obligations.get(model=world["credit"]))
    promotion = promotion_request(actor=cast["dana"], version=world["v"]["credit"], target_stage="archived")
    assert all(i["key"] != "privacy_obligations" for i in promotion_checklist(promotion=promotion))


def test_receipt_json_and_auditors_read_only(erasure, world, cast, api):
    obligation = erasure.obligations.get(model=world["credit"])
    privacy.obligation_sign(actor=cast["rita"], obligation=obligation, statement="Residual risk low")
    privacy.obligation_sign(actor=cast["sam"], obligation=obligation, statement="Accepted")
    body = api("audrey").get(f"/api/v1/subject-requests/{erasure.pk}/").json()
    assert body["kind"] == "erasure" and body["subject_key_given"] is True and "alice" not in str(body)
    closed = {o["model"]: o for o in body["obligations"]}["credit-gbm"]
    assert closed["status"] == "accepted" and [s["signer"] for s in closed["signatures"]] == ["rita", "sam"]
    assert body["open_obligations"] == 1
    assert api("audrey").post("/api/v1/subject-requests/", {"kind": "access", "subject_key": "x"}, format="json").status_code == 403
    other = erasure.obligations.get(model=world["churn"])
    assert api("audrey").post(f"/api/v1/obligations/{other.pk}/sign/", {"statement": "x"}, format="json").status_code == 403
    r = api("dana").post(f"/api/v1/obligations/{other.pk}/sign/", {"statement": "x"}, format="json")
    assert r.status_code == 403
    page = api("audrey").get("/api/v1/obligations/?status=open").json()
    assert [o["model"] for o in page["results"]] == ["churn-lr"]


def test_obligations_reach_the_dashboards_of_who_must_act(erasure, world, cast):
    from portal.attention import attention_for

    for who in ("dana", "sam", "rita"):
        texts = [i["text"] for i in attention_for(cast[who]) if i["kind"] == "obligation"]
        assert any("credit-gbm" in t for t in texts), who
    assert not [i for i in attention_for(cast["audrey"]) if i["kind"] == "obligation"]


def test_the_model_card_lists_obligations(erasure, world, cast, client, settings):
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    client.force_login(cast["audrey"])
    body = client.get("/inventory/credit-gbm/v/1/card/").content.decode()
    assert "Data-subject obligations" in body and "Open" in body


def test_impact_costs_one_query_per_level_of_derivation(world, cast):
    """The lineage walk is one query per level: three more levels cost three more queries,
    whatever the number of datasets per level."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from privacy.selectors import impact_compute

    def queries_for(dataset):
        with CaptureQueriesContext(connection) as ctx:
            impact_compute(dataset_ids=[dataset.pk])
        return len(ctx.captured_queries)

    def chain(name, depth):
        top = world["ds"](name)
        level = [top]
        for d in range(depth):  # three datasets wide at each level
            level = [world["ds"](f"{name}-{d}-{i}", level) for i in range(3)]
        return top

    assert queries_for(chain("deep", 4)) == queries_for(chain("shallow", 1)) + 3
