"""Experiment pages: the list, the design and protocol form (with the sample size computed as
you type), one experiment's life (start, stop, progress, analyses, decision) and the dashboard's
panel of running experiments.

Writes go through the abtests services only (`lifecycle`, `analyses`, `decisions`); the forms
(`experiment_forms.py`) parse the person's input, the services decide (the plan shown while
typing is `abtests.planning.plan_compute`, as for the API and the design itself). A refusal shows
`ServiceError.message` and its `fields` next to the inputs.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.forms.utils import pretty_name
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from abtests import access, analyses, decisions, lifecycle, planning
from abtests.horizon import horizon
from abtests.models import Analysis, Arm, Decision, Event, Experiment
from audit.models import AuditEvent
from core.errors import InvalidInput, ServiceError
from registry.models import ModelVersion, RegisteredModel, Stage

from .experiment_forms import DecisionForm, DesignForm, PlanForm, StopForm
from .paging import page_of, querystring_without_page

E = Experiment


def _with_units(queryset):
    """Annotate `units`, the events stored so far (one correlated COUNT, no join fan-out)."""
    counts = Event.objects.filter(experiment=OuterRef("pk")).order_by().values("experiment").annotate(n=Count("pk")).values("n")
    return queryset.annotate(units=Coalesce(Subquery(counts, output_field=IntegerField()), Value(0)))


def _percent(units: int, planned: int) -> int:
    return min(100, int(100 * units / planned)) if planned else 0


def running_experiments(limit: int = 8) -> list[Experiment]:
    """The dashboard panel: running experiments with their progress (one query)."""
    rows = list(_with_units(E.objects.filter(status=E.Status.RUNNING).select_related("model")).order_by("started_at", "pk")[:limit])
    for exp in rows:
        exp.percent = _percent(exp.units, exp.total_n)
    return rows


# --- the design form -------------------------------------------------------------------------


def _initial(exp: Experiment) -> dict:
    arms = list(exp.arms.all())
    data = {f: getattr(exp, f) for f in DesignForm.base_fields if hasattr(exp, f) and f not in ("champion", "challengers")}
    data["champion"] = arms[0].version.number
    data["challengers"] = [a.version.number for a in arms[1:]]
    data["secondary_metrics"] = "\n".join(f"{m['name']}, {m['type']}" for m in exp.secondary_metrics or [])
    data["allocation"] = ", ".join(f"{a.weight:g}" for a in arms)
    return data


def _default_initial(versions: list) -> dict:
    production = [v for v in versions if v.stage == Stage.PRODUCTION]
    champion = production[-1] if production else (versions[0] if versions else None)
    challengers = [v.number for v in versions[-1:] if champion and v.pk != champion.pk]
    return {"champion": champion.number if champion else None, "challengers": challengers}


@login_required
@require_POST
def experiment_plan(request):
    """The plan partial: sample size per arm, total and planned duration, or why there are none."""
    form = PlanForm(request.POST)
    try:
        if not form.is_valid():  # too long to be a number or a choice
            raise InvalidInput("The plan's inputs are invalid.", fields={k: list(v) for k, v in form.errors.items()})
        return render(request, "portal/experiments/_plan.html", {"plan": planning.plan_compute(**form.plan_arguments())})
    except ServiceError as exc:
        problems = [(key, _label(key), problem) for key, listed in exc.fields.items() for problem in listed]
        return render(request, "portal/experiments/_plan.html", {"error": exc, "problems": problems}, status=400)


def _label(key: str) -> str:
    field = DesignForm.base_fields.get(key)
    return (field.label if field and field.label else pretty_name(key)) if key != "non_field_errors" else "Plan"


# --- list and creation -------------------------------------------------------------------------


@login_required
def experiments(request):
    queryset = _with_units(E.objects.select_related("model", "created_by")).order_by("-created_at", "-pk")
    filters = {key: request.GET.get(key, "").strip() for key in ("q", "status", "kind")}
    if filters["q"]:
        queryset = queryset.filter(Q(name__icontains=filters["q"]) | Q(model__name__icontains=filters["q"]))
    if filters["status"] in E.Status.values:
        queryset = queryset.filter(status=filters["status"])
    if filters["kind"] in E.Kind.values:
        queryset = queryset.filter(kind=filters["kind"])
    page = page_of(request, queryset)
    for exp in page:
        exp.percent = _percent(exp.units, exp.total_n)
    context = {
        "section": "experiments",
        "page": page,
        "filters": filters,
        "statuses": E.Status.choices,
        "kinds": E.Kind.choices,
        "querystring": querystring_without_page(request),
    }
    return render(request, "portal/experiments/list.html", context)


@login_required
def experiment_new(request):
    name = request.GET.get("model") or request.POST.get("model") or ""
    model = RegisteredModel.objects.select_related("use_case").filter(name=name).first() if name else None
    context = {"section": "experiments", "model": model, "model_name": name}
    if model is None:
        context["models"] = RegisteredModel.objects.order_by("name").only("pk", "name")
        return render(request, "portal/experiments/new.html", context)
    versions = list(ModelVersion.objects.filter(model=model).order_by("number"))
    context["can_run"] = access.can_run(request.user, model)
    if not context["can_run"]:
        context["refusal"] = "Only those who may change this model run experiments on it: its owner, its use case's owner or an administrator."
        return render(request, "portal/experiments/new.html", context, status=403 if request.method == "POST" else 200)
    if request.method == "POST":
        form = DesignForm(request.POST, versions=versions)
        if form.is_valid():
            try:
                exp = lifecycle.experiment_create(actor=request.user, model=model, **form.service_arguments(model))
            except ServiceError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, f"Experiment “{exp.name}” is designed. Review it, then start it to lock the protocol.")
                return redirect("portal:experiment", pk=exp.pk)
    else:
        form = DesignForm(initial=_default_initial(versions), versions=versions)
    context["form"] = form
    context["action"] = f"{reverse('portal:experiment-new')}?{urlencode({'model': model.name})}"
    return render(request, "portal/experiments/new.html", context, status=400 if form.errors else 200)


# --- one experiment ----------------------------------------------------------------------------


def _experiment_or_404(pk):
    return get_object_or_404(
        E.objects.select_related("model__use_case", "created_by").prefetch_related(
            Prefetch("arms", queryset=Arm.objects.select_related("version").order_by("position"))
        ),
        pk=pk,
    )


def _decision(exp):
    decision = Decision.objects.select_related("decided_by", "version", "analysis").prefetch_related("signers").filter(experiment=exp).first()
    if decision is not None:
        ref = decision.promotion_ref
        decision.promotion_id = int(ref) if ref.isdigit() else None
    return decision


def _latest_analysis(exp):
    return Analysis.objects.select_related("job__created_by").filter(experiment=exp).order_by("-created_at", "-pk").first()


def _chart(analysis) -> list[dict]:
    """Per metric, the effect and its interval for the interval plot (experiments.js)."""
    rows = []
    for index, m in enumerate((analysis.results or {}).get("metrics", []) if analysis else []):
        if m.get("effect_absolute") is None:
            continue
        low, high = (m.get("ci_absolute") or [None, None])
        null = 0.5 if m["test"].lower().startswith("mann") else 0.0
        rows.append({"index": index, "metric": m["metric"], "arm": m.get("arm"), "label": m.get("effect_label", "effect"),
                     "effect": m["effect_absolute"], "low": low, "high": high, "null": null, "has_ci": bool(m.get("ci_absolute")),
                     "significant": bool(m.get("significant"))})
    return rows


def _interval(ci, *, percent=False) -> str:
    """“[low, high]”; a missing end is the open side of a one-sided interval."""
    if not ci:
        return ""

    def end(x, infinite):
        if x is None:
            return infinite
        return f"{100 * x:+.2f}%" if percent else f"{x:.4g}"

    return f"[{end(ci[0], '−∞')}, {end(ci[1], '+∞')}]"


def _analysis_context(exp, analysis) -> dict:
    results = (analysis.results or {}) if analysis else {}
    metrics = results.get("metrics", [])
    alternatives = {"two-sided": "two-sided", "larger": "one-sided: treatment larger", "smaller": "one-sided: treatment smaller"}
    for index, m in enumerate(metrics):
        m["index"] = index
        m["alternative_text"] = alternatives.get(m.get("alternative"), m.get("alternative"))
        m["role_text"] = {"primary": "goal metric", "secondary": "secondary metric"}.get(m.get("role"), m.get("role"))
        m["n_items"] = sorted((m.get("n") or {}).items())
        m["ci_text"] = _interval(m.get("ci_absolute"))
        m["ci_relative_text"] = _interval(m.get("ci_relative"), percent=True)
        if m.get("effect_relative") is not None:
            m["effect_relative_text"] = f"{100 * m['effect_relative']:+.2f}%"
        if m.get("confidence_level"):
            m["confidence_percent"] = f"{100 * m['confidence_level']:g}%"
    return {"experiment": exp, "analysis": analysis, "results": results, "metrics": metrics, "chart": _chart(analysis),
            "pending": bool(analysis and analysis.status in (Analysis.Status.QUEUED, Analysis.Status.RUNNING))}


def _progress(exp) -> dict:
    progress = horizon(exp, arms=list(exp.arms.all()))
    progress["percent"] = int(100 * progress["fraction"])
    if exp.days:
        progress["days_percent"] = min(100, int(100 * progress["elapsed_days"] / exp.days))
    if exp.kind == E.Kind.AB:
        versions = {a.pk: a.version.number for a in exp.arms.all()}
        progress["arms"] = [{**row, "version": versions[row["key"]]} for row in progress["arms"]]
    else:
        progress.pop("arms")
    return progress


def _locked(exp) -> dict | None:
    """When the protocol was locked and the SHA-256 recorded with the start."""
    if not exp.started_at:
        return None
    event = AuditEvent.objects.filter(action="experiment.start", object_type="abtests.experiment", object_id=str(exp.pk)).only(
        "timestamp", "changes"
    ).first()
    digest = ((event.changes or {}).get("protocol_sha256") or {}).get("after") if event else None
    return {"at": exp.started_at, "sha256": digest}


def _detail(request, exp, *, form=None, status=200, decision_errors=None):
    can_run = access.can_run(request.user, exp)
    decision = _decision(exp)
    analysis = _latest_analysis(exp)
    if form is None and exp.status == E.Status.DRAFT and can_run:
        versions = list(ModelVersion.objects.filter(model=exp.model).order_by("number"))
        form = DesignForm(initial=_initial(exp), versions=versions)
    context = {
        "section": "experiments",
        "experiment": exp,
        "arms": list(exp.arms.all()),
        "can_run": can_run,
        "can_decide": access.can_decide(request.user, exp),
        "form": form,
        "locked": _locked(exp),
        "progress": _progress(exp) if exp.status != E.Status.DRAFT else None,
        "decision": decision,
        "signed": decision is not None and any(s.pk == request.user.pk for s in decision.signers.all()),
        "decision_errors": decision_errors or {},
        "outcomes": Decision.Outcome.choices,
        **_analysis_context(exp, analysis),
    }
    return render(request, "portal/experiments/detail.html", context, status=status)


@login_required
def experiment_detail(request, pk):
    return _detail(request, _experiment_or_404(pk))


@login_required
@require_POST
def experiment_edit(request, pk):
    exp = _experiment_or_404(pk)
    versions = list(ModelVersion.objects.filter(model=exp.model).order_by("number"))
    form = DesignForm(request.POST, versions=versions)
    if form.is_valid():
        try:
            fields = form.service_arguments(exp.model)
            lifecycle.experiment_update(actor=request.user, experiment=exp, **fields)
        except ServiceError as exc:
            if not exc.fields or exc.code == "protocol_locked":
                messages.error(request, exc.message)
                return redirect("portal:experiment", pk=exp.pk)
            form.add_service_error(exc)
        else:
            messages.success(request, "The design is saved.")
            return redirect("portal:experiment", pk=exp.pk)
    return _detail(request, _experiment_or_404(pk), form=form, status=400)


def _act(request, pk, action, success: str):
    exp = _experiment_or_404(pk)
    try:
        action(exp)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect("portal:experiment", pk=pk)


@login_required
@require_POST
def experiment_start(request, pk):
    return _act(request, pk, lambda exp: lifecycle.experiment_start(actor=request.user, experiment=exp),
                "Started. The protocol is locked; upload events through the API.")


@login_required
@require_POST
def experiment_stop(request, pk):
    form = StopForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(m for ms in form.errors.values() for m in ms))
        return redirect("portal:experiment", pk=pk)
    reason = form.cleaned_data["reason"]
    return _act(request, pk, lambda exp: lifecycle.experiment_stop(actor=request.user, experiment=exp, reason=reason), "Stopped.")


@login_required
@require_POST
def experiment_analyse(request, pk):
    """Queue an analysis; answers htmx with the analysis panel, which shows the job's progress."""
    exp = _experiment_or_404(pk)
    try:
        analysis = analyses.analysis_request(actor=request.user, experiment=exp)
    except ServiceError as exc:
        if not request.headers.get("HX-Request"):
            messages.error(request, exc.message)
            return redirect("portal:experiment", pk=pk)
        # 200 even on refusal: htmx swaps only 2xx responses, and the refusal is the content to show.
        return render(request, "portal/experiments/_analysis.html", {**_analysis_context(exp, _latest_analysis(exp)), "error": exc.message})
    if not request.headers.get("HX-Request"):
        return redirect("portal:experiment", pk=pk)
    analysis = Analysis.objects.select_related("job__created_by").get(pk=analysis.pk)
    return render(request, "portal/experiments/_analysis.html", _analysis_context(exp, analysis))


@login_required
def experiment_analysis(request, pk, analysis_id):
    """One analysis's panel: what experiments.js fetches once the job's widget shows it finished."""
    exp = _experiment_or_404(pk)
    analysis = get_object_or_404(Analysis.objects.select_related("job__created_by"), pk=analysis_id, experiment=exp)
    return render(request, "portal/experiments/_analysis.html", _analysis_context(exp, analysis))


@login_required
@require_POST
def experiment_decide(request, pk):
    exp = _experiment_or_404(pk)
    form = DecisionForm(request.POST)
    try:
        if not form.is_valid():
            raise InvalidInput("Invalid decision.", fields={k: list(v) for k, v in form.errors.items()})
        decisions.decision_record(actor=request.user, experiment=exp, outcome=form.cleaned_data["outcome"],
                                  rationale=form.cleaned_data["rationale"], version=form.challenger(exp))
    except ServiceError as exc:
        if exc.fields and exc.status_code == 400:
            return _detail(request, _experiment_or_404(pk), status=400,
                           decision_errors={"message": exc.message, **exc.fields})
        messages.error(request, exc.message)
    else:
        messages.success(request, "The decision is recorded.")
    return redirect(reverse("portal:experiment", args=[pk]) + "#decision")


@login_required
@require_POST
def experiment_sign(request, pk):
    return _act(request, pk, lambda exp: decisions.decision_sign(actor=request.user, experiment=exp), "Your signature is recorded.")
