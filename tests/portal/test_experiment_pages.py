"""The experiment pages: list, design form and its plan partial, one experiment's life, dashboard.

Experiments are built through the abtests services; analyses run their service in this process (the
browser test runs one on a real worker). A little over 400 lines: one file per page family, as
in portal/.
"""

import hashlib
import io
import re

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from abtests import analyses, ingest, lifecycle, planning
from abtests.models import Analysis, Decision, Experiment
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

DESIGN = {
    "name": "gbm v2 vs v1", "description": "", "kind": "ab", "champion": "1", "challengers": ["2"],
    "metric_name": "revenue", "metric_type": "continuous", "direction": "increase", "secondary_metrics": "",
    "population": "retail customers", "splitting": "sticky", "allocation": "", "test": "welch_t", "alpha": "0.05",
    "power": "0.8", "mde": "0.5", "alternative": "two-sided", "baseline": "10", "sd": "1", "daily_units": "100",
    "sequential": "none", "looks": "",
}


@pytest.fixture
def versions(inventory, cast):
    """v1 (champion), v2 and v3 of dana's `credit-gbm`."""
    from registry import services

    model = inventory["model"]
    extra = [
        services.model_version_register(
            actor=cast["dana"], model=model, artifact_uri=f"s3://models/{n}", sha256=hashlib.sha256(str(n).encode()).hexdigest()
        )
        for n in (2, 3)
    ]
    return [inventory["version"], *extra]


@pytest.fixture
def make_experiment(cast, versions):
    def make(*, start=True, name="revenue test", **overrides):
        fields = dict(name=name, test="welch_t", metric_name="revenue", metric_type="continuous", sd=1.0, mde=0.5,
                      baseline=10.0, daily_units=100.0, secondary_metrics=[{"name": "clicked", "type": "binary"}])
        fields.update(overrides)
        exp = lifecycle.experiment_create(actor=cast["dana"], model=versions[0].model, champion=versions[0], challengers=[versions[1]], **fields)
        if start:
            exp = lifecycle.experiment_start(actor=cast["dana"], experiment=exp)
        return exp

    return make


def feed(exp, cast, *, n=None, shift=1.0, seed=3):
    """Upload n units per arm (the planned size by default) through the ingest service."""
    n = n or exp.n_per_arm
    rng = np.random.default_rng(seed)
    lines = ["unit_id,arm,value,clicked"]
    for arm, mean in (("control", 10.0), ("treatment", 10.0 + shift)):
        lines += [f"{arm}-{i},{arm},{float(v)!r},{int(rng.random() < 0.3)}" for i, v in enumerate(rng.normal(mean, 1.0, n))]
    ingest.events_ingest(actor=cast["dana"], experiment=exp, body=io.BytesIO("\n".join(lines).encode()), content_type="text/csv")


def analyse(exp, cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        analysis = analyses.analysis_request(actor=cast["dana"], experiment=exp)
    return analyses.analysis_run(analysis_id=analysis.pk)


def plan_numbers(html: str) -> dict:
    return {k: int(v) for k, v in re.findall(r'data-plan="(\w+)">(\d+)<', html)}


# --- rendering for each role -------------------------------------------------------------------


def test_pages_render_for_each_role(browse, cast, make_experiment, django_capture_on_commit_callbacks):
    draft = make_experiment(start=False, name="draft test")
    done = make_experiment(name="done test")
    feed(done, cast)
    analyse(done, cast, django_capture_on_commit_callbacks)
    urls = [reverse("portal:experiments"), reverse("portal:experiment", args=[draft.pk]),
            reverse("portal:experiment", args=[done.pk]), reverse("portal:experiment-new") + "?model=credit-gbm",
            reverse("portal:dashboard")]
    pages = {}
    for user in ("dana", "sam", "rita", "omar", "audrey", "root"):
        client = browse(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (user, url)
            pages[user, url] = response.content.decode()
    detail_draft, detail_done, new = urls[1], urls[2], urls[3]
    # dana designs, edits and starts her draft; others see the protocol read-only
    assert f'action="/experiments/{draft.pk}/edit/"' in pages["dana", detail_draft]
    assert "Start experiment" in pages["dana", detail_draft]
    for user in ("sam", "rita", "audrey"):
        assert "Start experiment" not in pages[user, detail_draft]
        assert "Save design" not in pages[user, detail_draft]
    # the design form: for those who may change the model; others are told why
    assert "Create experiment" in pages["dana", new] and "Create experiment" in pages["root", new]
    for user in ("sam", "rita", "audrey"):
        assert "Create experiment" not in pages[user, new]
        assert "Only those who may change this model run experiments on it" in pages[user, new]
    # the completed analysis: result, chart data, secondaries with Holm; decision form for risk officers
    for user in ("dana", "audrey", "rita"):
        page = pages[user, detail_done]
        assert 'id="analysis-chart-data"' in page and 'id="effect-chart-0"' in page
        assert "Holm-adjusted p-value" in page and "Achieved power" in page and "Welch" in page
    for user in ("rita", "omar", "root"):
        assert "Record decision" in pages[user, detail_done]
    for user in ("dana", "sam", "audrey"):
        assert "Record decision" not in pages[user, detail_done]
        assert "accountable for model acceptance" in pages[user, detail_done]
    assert "Run analysis" in pages["dana", detail_done] and "Run analysis" not in pages["audrey", detail_done]
    # the list shows status, model, kind and progress
    listing = pages["audrey", urls[0]]
    assert "draft test" in listing and "Running" in listing and "credit-gbm" in listing and "A/B test" in listing
    assert re.search(r'value="100"[^>]*>100%', listing)


def test_dashboard_lists_running_experiments_with_progress(browse, cast, make_experiment):
    exp = make_experiment()
    make_experiment(start=False, name="a draft")
    feed(exp, cast, n=exp.n_per_arm // 2)
    page = browse("audrey").get(reverse("portal:dashboard")).content.decode()
    panel = page.split('id="experiments-panel"')[1].split("</section>")[0]
    assert "revenue test" in panel and "credit-gbm" in panel and "a draft" not in panel
    percent = int(100 * (exp.n_per_arm // 2) * 2 / exp.total_n)
    assert f"{percent}%" in panel


# --- the design form and its plan partial ------------------------------------------------------


@pytest.mark.parametrize("data", [
    {"metric_type": "continuous", "mde": "0.5", "sd": "1", "alpha": "0.05", "power": "0.8", "alternative": "two-sided"},
    {"metric_type": "binary", "mde": "0.02", "baseline": "0.1", "alpha": "0.01", "power": "0.9", "alternative": "larger",
     "daily_units": "1234"},
    {"metric_type": "binary", "mde": "-0.03", "baseline": "0.3", "alternative": "smaller", "allocation": "1, 3",
     "daily_units": "500"},
])
def test_plan_partial_shows_the_numbers_of_plan_compute(browse, cast, data):
    response = browse("dana").post(reverse("portal:experiment-plan"), {"kind": "ab", **data})
    assert response.status_code == 200
    expected = planning.plan_compute(
        metric_type=data["metric_type"], mde=data["mde"], alpha=data.get("alpha", 0.05), power=data.get("power", 0.8),
        alternative=data["alternative"], baseline=data.get("baseline"), sd=data.get("sd"), daily_units=data.get("daily_units"),
        allocation=data["allocation"].split(",") if "allocation" in data else None,
    )
    shown = plan_numbers(response.content.decode())
    assert shown["n_per_arm"] == expected["n_per_arm"] and shown["total_n"] == expected["total_n"]
    assert shown.get("days") == expected["days"]


def test_plan_partial_for_shadow_counts_pairs(browse, cast):
    data = {"kind": "shadow", "metric_type": "continuous", "mde": "0.5", "sd": "1", "daily_units": "10"}
    shown = plan_numbers(browse("dana").post(reverse("portal:experiment-plan"), data).content.decode())
    n = planning.plan_compute(metric_type="continuous", mde=0.5, sd=1)["n_per_arm"]
    assert shown == {"pairs": n, "days": -(-n // 10)}


def test_plan_partial_shows_the_inflated_maximum_and_the_look_schedule(browse, cast):
    data = {"kind": "ab", "metric_type": "binary", "mde": "0.02", "baseline": "0.1", "daily_units": "1000"}
    client = browse("dana")
    fixed = plan_numbers(client.post(reverse("portal:experiment-plan"), {**data, "sequential": "none"}).content.decode())
    shown = {}
    for looks in (4, 10):
        html = client.post(reverse("portal:experiment-plan"), {**data, "sequential": "obf", "looks": str(looks)}).content.decode()
        shown[looks] = plan_numbers(html)
        assert f'data-plan-looks="{looks}"' in html and html.count("data-look-total") == looks
        assert shown[looks]["n_fixed_per_arm"] == fixed["n_per_arm"]
    assert fixed["n_per_arm"] < shown[4]["n_per_arm"] < shown[10]["n_per_arm"]


def test_fields_required_for_some_designs_say_so_rather_than_optional(browse, cast, versions):
    html = browse("dana").get(reverse("portal:experiment-new") + "?model=credit-gbm").content.decode()
    label = re.search(r'<label for="id_baseline">(.*?)</label>', html, re.S).group(1)
    assert "optional" not in label and "required for a binary goal metric" in label
    response = browse("dana").post(reverse("portal:experiment-plan"), {"metric_type": "binary", "mde": "0.1"})
    assert response.status_code == 400 and 'data-field="baseline"' in response.content.decode()


def test_plan_partial_answers_400_with_field_messages(browse, cast):
    response = browse("dana").post(reverse("portal:experiment-plan"), {"metric_type": "binary", "mde": "abc", "alpha": "2"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-field="mde"' in html and "Must be a number." in html
    assert 'data-field="alpha"' in html and "strictly between 0 and 1" in html
    assert "Minimum detectable effect" in html  # the form's label, not the field's key


def test_dana_creates_an_experiment_with_the_form(browse, cast, versions):
    url = reverse("portal:experiment-new") + "?model=credit-gbm"
    data = {**DESIGN, "secondary_metrics": "clicked, binary\nbasket: continuous"}
    response = browse("dana").post(url, data)
    exp = Experiment.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("portal:experiment", args=[exp.pk])
    plan = planning.plan_compute(metric_type="continuous", mde=0.5, sd=1, daily_units=100)
    assert (exp.n_per_arm, exp.total_n, exp.days) == (plan["n_per_arm"], plan["total_n"], plan["days"])
    assert exp.secondary_metrics == [{"name": "clicked", "type": "binary"}, {"name": "basket", "type": "continuous"}]
    assert [(a.name, a.version.number) for a in exp.arms.order_by("position")] == [("control", 1), ("treatment", 2)]
    assert exp.created_by == cast["dana"] and exp.status == "draft"


def _field_block(html: str, name: str) -> str:
    """The markup of one field's wrapper (label, input, messages)."""
    start = html.index(f'name="{name}"')
    return html[html.rindex('class="field', 0, start):html.index("</div>", start) if name != "challengers" else html.index("</fieldset>", start)]


def test_form_errors_are_shown_next_to_the_inputs(browse, cast, versions):
    url = reverse("portal:experiment-new") + "?model=credit-gbm"
    # the form's own parsing
    response = browse("dana").post(url, {**DESIGN, "mde": "", "secondary_metrics": "clicked"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in _field_block(html, "mde")
    assert "write “name, binary” or “name, continuous”" in _field_block(html, "secondary_metrics")
    # the service's refusal, field by field
    response = browse("dana").post(url, {**DESIGN, "test": "mcnemar", "challengers": ["1"]})
    assert response.status_code == 400
    html = response.content.decode()
    assert "For a ab experiment use one of" in _field_block(html, "test")
    assert "Champion and challengers must be distinct versions." in _field_block(html, "challengers")
    assert 'value="mcnemar" selected' in html  # the input is kept
    assert not Experiment.objects.exists()


def test_only_those_who_may_change_the_model_create(browse, cast, versions):
    url = reverse("portal:experiment-new") + "?model=credit-gbm"
    response = browse("sam").post(url, DESIGN)
    assert response.status_code == 403 and "Only those who may change this model" in response.content.decode()
    assert not Experiment.objects.exists()
    assert "no model named" in browse("dana").get(reverse("portal:experiment-new") + "?model=nope").content.decode()


# --- one experiment's life ---------------------------------------------------------------------


def test_draft_is_edited_then_started_and_locked(browse, cast, make_experiment):
    exp = make_experiment(start=False)
    client = browse("dana")
    edit = reverse("portal:experiment-edit", args=[exp.pk])
    response = client.post(edit, {**DESIGN, "name": "renamed", "mde": "0.25", "allocation": "1, 1"})
    assert response.status_code == 302
    exp.refresh_from_db()
    assert exp.name == "renamed" and exp.n_per_arm == planning.plan_compute(metric_type="continuous", mde=0.25, sd=1)["n_per_arm"]
    response = client.post(edit, {**DESIGN, "alpha": "1.5"})
    assert response.status_code == 400 and "strictly between 0 and 1" in _field_block(response.content.decode(), "alpha")

    assert client.post(reverse("portal:experiment-start", args=[exp.pk])).status_code == 302
    page = client.get(reverse("portal:experiment", args=[exp.pk])).content.decode()
    digest = AuditEvent.objects.get(action="experiment.start").changes["protocol_sha256"]["after"]
    assert "Locked at" in page and digest in page and "Save design" not in page
    assert "Stop experiment" in page and "no significant verdict" in page
    # a change after start is refused (and audited by the service)
    response = client.post(edit, {**DESIGN, "mde": "0.1"}, follow=True)
    assert "The protocol is locked" in response.content.decode()
    assert AuditEvent.objects.filter(action="experiment.change_refused").count() == 1


def test_start_refused_for_others(browse, cast, make_experiment):
    exp = make_experiment(start=False)
    response = browse("sam").post(reverse("portal:experiment-start", args=[exp.pk]), follow=True)
    assert "You may not start this experiment." in response.content.decode()
    exp.refresh_from_db()
    assert exp.status == "draft"


def test_early_stop_gives_progress_only_and_keep_champion_is_recorded(browse, cast, make_experiment, django_capture_on_commit_callbacks):
    exp = make_experiment()
    feed(exp, cast, n=10)
    response = browse("dana").post(reverse("portal:experiment-stop", args=[exp.pk]), {"reason": "incident"}, follow=True)
    assert "stopped early" in response.content.decode()
    analyse(exp, cast, django_capture_on_commit_callbacks)
    page = browse("rita").get(reverse("portal:experiment", args=[exp.pk])).content.decode()
    assert "No verdict before the planned horizon." in page and "analysis-chart-data" not in page
    assert "20 of " in page  # progress at the analysis

    decide = reverse("portal:experiment-decide", args=[exp.pk])
    response = browse("rita").post(decide, {"outcome": "keep_champion", "rationale": ""})
    assert response.status_code == 400 and "Explain the decision." in response.content.decode()
    response = browse("rita").post(decide, {"outcome": "adopt_challenger", "rationale": "looks good"}, follow=True)
    assert "No completed analysis" in response.content.decode()
    response = browse("rita").post(decide, {"outcome": "keep_champion", "rationale": "Stopped after an incident."}, follow=True)
    page = response.content.decode()
    assert "Keep champion" in page and "Stopped after an incident." in page and "Co-sign" not in page
    response = browse("root").post(reverse("portal:experiment-sign", args=[exp.pk]), follow=True)
    assert list(Decision.objects.get().signers.values_list("username", flat=True).order_by("username")) == ["rita", "root"]


def test_run_analysis_answers_the_job_partial(browse, cast, make_experiment, django_capture_on_commit_callbacks):
    exp = make_experiment()
    feed(exp, cast)
    with django_capture_on_commit_callbacks(execute=False):
        response = browse("dana").post(reverse("portal:experiment-analyse", args=[exp.pk]), HTTP_HX_REQUEST="true")
    analysis = Analysis.objects.get()
    html = response.content.decode()
    assert response.status_code == 200 and f'id="job-{analysis.job_id}"' in html
    assert f'data-refresh-url="/experiments/{exp.pk}/analyses/{analysis.pk}/"' in html
    analyses.analysis_run(analysis_id=analysis.pk)
    html = browse("dana").get(reverse("portal:experiment-analysis", args=[exp.pk, analysis.pk])).content.decode()
    assert "data-refresh-url" not in html and 'id="analysis-chart-data"' in html and "Significant, in favour of treatment" in html
    # refused: auditors do not run analyses
    response = browse("audrey").post(reverse("portal:experiment-analyse", args=[exp.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "You may not analyse this experiment." in response.content.decode()


def test_adopt_opens_a_promotion_and_links_it(browse, cast, make_experiment, django_capture_on_commit_callbacks):
    from governance.classification import classification_submit

    from .conftest import LOW_RISK_ANSWERS

    exp = make_experiment()
    classification_submit(actor=cast["rita"], use_case=exp.model.use_case, answers=LOW_RISK_ANSWERS)
    feed(exp, cast)
    analyse(exp, cast, django_capture_on_commit_callbacks)
    response = browse("rita").post(reverse("portal:experiment-decide", args=[exp.pk]),
                                   {"outcome": "adopt_challenger", "rationale": "Revenue up."}, follow=True)
    decision = Decision.objects.get()
    page = response.content.decode()
    assert decision.promotion_ref.isdigit()
    assert f'href="/promotions/{decision.promotion_ref}/"' in page and "Adopt challenger" in page and ": v2" in page


# --- bounded queries ---------------------------------------------------------------------------


def test_list_runs_the_same_queries_at_10_and_200_experiments(browse, cast, versions):
    dana, model = cast["dana"], versions[0].model

    def grow(start, stop):
        Experiment.objects.bulk_create(
            Experiment(name=f"e{i}", model=model, metric_type="binary", test="two_proportion_z", mde=0.1, salt="s",
                       created_by=dana, status="running" if i % 2 else "draft", total_n=100)
            for i in range(start, stop)
        )

    client = browse("dana")
    urls = [reverse("portal:experiments"), reverse("portal:experiments") + "?status=running", reverse("portal:dashboard")]

    def count(url):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    grow(0, 10)
    small = {url: count(url) for url in urls}
    grow(10, 200)
    large = {url: count(url) for url in urls}
    assert small == large
    # session, user, the user's roles (the portal's door, portal/middleware.py), COUNT, one page
    # of experiments (model, creator and events count joined in), the session's save (in a
    # savepoint: SAVEPOINT, UPDATE, RELEASE)
    assert small[urls[0]] <= 8, small


def test_detail_queries_do_not_grow_with_arms_metrics_or_events(browse, cast, versions, make_experiment, django_capture_on_commit_callbacks):
    client = browse("rita")

    def count(exp):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("portal:experiment", args=[exp.pk])).status_code == 200
        return len(ctx.captured_queries)

    small = make_experiment(name="small")
    feed(small, cast, n=20)
    analyse(small, cast, django_capture_on_commit_callbacks)
    large = lifecycle.experiment_create(
        actor=cast["dana"], model=versions[0].model, champion=versions[0], challengers=[versions[1], versions[2]], name="large",
        test="welch_t", metric_name="revenue", metric_type="continuous", sd=1.0, mde=0.5,
        secondary_metrics=[{"name": "clicked", "type": "binary"}],
    )
    large = lifecycle.experiment_start(actor=cast["dana"], experiment=large)
    rows = "\n".join(["unit_id,arm,value,clicked", *(f"u{i},{('v1', 'v2', 'v3')[i % 3]},{i % 7},{i % 2}" for i in range(600))])
    ingest.events_ingest(actor=cast["dana"], experiment=large, body=io.BytesIO(rows.encode()), content_type="text/csv")
    analyse(large, cast, django_capture_on_commit_callbacks)
    # session, user, experiment (model, use case, creator), its arms with versions, the viewer's
    # roles, the decision, the latest analysis with its job, the RACI, the start's audit event,
    # the horizon's per-arm COUNT, and the session's save (SAVEPOINT, UPDATE, RELEASE)
    assert count(small) == count(large) == 13


def test_the_analysis_panel_speaks_people_s_words(browse, cast, make_experiment, django_capture_on_commit_callbacks):
    from abtests.tasks import analysis_run_task

    exp = make_experiment()
    feed(exp, cast, n=5)
    with django_capture_on_commit_callbacks(execute=False):
        analysis = analyses.analysis_request(actor=cast["dana"], experiment=exp)
    analysis_run_task(analysis.job_id)
    html = browse("dana").get(reverse("portal:experiment-analysis", args=[exp.pk, analysis.pk])).content.decode()
    assert "no verdict yet: progress and data quality only." in html
    assert "Analysis interim" not in html


def test_events_past_the_horizon_are_shown_but_not_read(browse, cast, make_experiment, django_capture_on_commit_callbacks):
    exp = make_experiment()
    feed(exp, cast)
    feed(exp, cast, seed=4)  # as many again, past the horizon (new unit ids and event ids: another body)
    analyse(exp, cast, django_capture_on_commit_callbacks)
    page = browse("rita").get(reverse("portal:experiment", args=[exp.pk])).content.decode()
    n = exp.n_per_arm
    assert page.count(f'<td class="num" data-past-horizon>{n}</td>') == 2
    horizon = re.search(r"<p data-horizon>(.*?)</p>", page, re.S).group(1)
    assert f"control {n} of {n} ({n} later events kept, not read)" in horizon
