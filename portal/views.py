"""The portal's pages. Thin: read through querysets with select_related/prefetch (every page runs a
bounded number of queries whatever the inventory size — tests/portal/test_query_counts.py), write
only by calling services, and show `ServiceError.message` to the person on refusal.

Background work started from a page (artifact check now; analyses and drift checks later) uses one
mechanism: the view calls the service that creates a `core.models.BackgroundJob` and enqueues its
task, then renders `templates/portal/_job.html` with that job. The partial polls `portal:job`
(`/jobs/<id>/`) every second with htmx while the job is pending or running and stops once it has
finished, so the page shows progress and result without a reload. To reuse it:

    job = some_service_enqueue(..., actor=request.user)         # returns a BackgroundJob
    return render(request, "portal/_job.html", {"job": job})     # from a POST with hx-post

and on a page, `{% include "portal/_job.html" with job=latest_job %}` to show the last run.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models import Count, Exists, Max, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

import governance.checklist
import governance.promotions
import governance.proposals
import governance.selectors
from audit.selectors import events_visible_to
from core.errors import ServiceError
from core.models import BackgroundJob
from core.text import render_markdown
from governance import access as governance_access
from governance.defaults import TIERS
from governance.models import Classification, PromotionRequest
from monitoring.selectors import models_with_alerts, open_alerts
from registry import access
from registry.models import Dataset, ModelVersion, RegisteredModel, Stage, Tag, UseCase
from registry.services import model_version_artifact_check_enqueue

from . import labels, work_views
from .attention import attention_for
from .experiment_views import running_experiments
from .governance_views import model_signoff_history, overdue_reviews_count
from .paging import page_of, querystring_without_page

# The use case's current risk tier: its newest classification, override first.
_current_tier = Classification.objects.order_by("-created_at", "-pk").annotate(
    tier=Coalesce("override_tier", "computed_tier")
)


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


@login_required
def dashboard(request):
    by_stage = dict(ModelVersion.objects.order_by().values_list("stage").annotate(n=Count("pk")))
    stage_counts = [{"stage": label, "value": value, "count": by_stage.get(value, 0)} for value, label in Stage.choices]
    by_tier = dict(
        RegisteredModel.objects.order_by()
        .annotate(tier=Subquery(_current_tier.filter(use_case=OuterRef("use_case_id")).values("tier")[:1]))
        .values_list("tier")
        .annotate(n=Count("pk"))
    )
    tier_counts = [{"tier": number, "label": label, "count": by_tier.get(number, 0)} for number, label in sorted(TIERS.items())]
    tier_counts.append({"tier": None, "label": "Unclassified", "count": by_tier.get(None, 0)})
    context = {
        "section": "dashboard",
        "stage_counts": stage_counts,
        "tier_counts": tier_counts,
        "chart": {"labels": [s["stage"] for s in stage_counts], "counts": [s["count"] for s in stage_counts]},
        "totals": {
            "use_cases": UseCase.objects.count(),
            "models": RegisteredModel.objects.count(),
            "versions": sum(by_stage.values()),
        },
        "attention": attention_for(request.user),
        # Governance events only (no sign-ins or exports), of what this person may see
        # (audit.selectors.events_visible_to); actor_username is on the event, no join.
        "events": [
            {"event": event, "label": labels.action_label(event.action)}
            for event in events_visible_to(request.user).filter(action__in=labels.GOVERNANCE_ACTIONS).order_by("-seq")[:10]
        ],
        "running_experiments": running_experiments(),
        # The newest open drift or performance alerts (monitoring decides what is open).
        "alerts": list(open_alerts()[:5]),
        "overdue_reviews": overdue_reviews_count(request.user),
    }
    return render(request, "portal/dashboard.html", context)


@login_required
def inventory(request):
    models = (
        RegisteredModel.objects.select_related("owner", "use_case")
        .prefetch_related("tags")
        .annotate(
            version_count=Count("versions"),
            latest_number=Max("versions__number"),
            production_number=Max("versions__number", filter=Q(versions__stage=Stage.PRODUCTION)),
            tier=Subquery(_current_tier.filter(use_case=OuterRef("use_case_id")).values("tier")[:1]),
            # An open monitoring alert (drift or degradation) on any of the model's versions.
            has_alert=Exists(models_with_alerts().filter(version__model_id=OuterRef("pk"))),
        )
        .order_by("name")
    )
    filters = {key: request.GET.get(key, "").strip() for key in ("q", "stage", "owner", "use_case", "tag", "tier", "alert")}
    if filters["q"]:
        models = models.filter(Q(name__icontains=filters["q"]) | Q(description__icontains=filters["q"]))
    if filters["stage"] in Stage.values:
        # Exists keeps the version counts above honest (a join filter would narrow them).
        models = models.filter(
            Exists(ModelVersion.objects.filter(model=OuterRef("pk"), stage=filters["stage"]))
        )
    if filters["owner"]:
        models = models.filter(owner__username=filters["owner"])
    if filters["use_case"].isdigit():
        models = models.filter(use_case_id=int(filters["use_case"]))
    if filters["tag"]:
        models = models.filter(Exists(RegisteredModel.tags.through.objects.filter(
            registeredmodel_id=OuterRef("pk"), tag__name=filters["tag"]
        )))
    if filters["tier"].isdigit():
        models = models.filter(tier=int(filters["tier"]))
    if filters["alert"] in ("open", "none"):
        models = models.filter(has_alert=filters["alert"] == "open")
    context = {
        "section": "inventory",
        "page": page_of(request, models),
        "filters": filters,
        "querystring": querystring_without_page(request),
        "stages": Stage.choices,
        "tiers": sorted(TIERS.items()),
        "use_cases": UseCase.objects.order_by("name").only("pk", "name"),
        "tags": Tag.objects.order_by("name"),
        "owners": get_user_model().objects.filter(
            Exists(RegisteredModel.objects.filter(owner=OuterRef("pk")))
        ).order_by("username").only("pk", "username"),
    }
    return render(request, "portal/inventory.html", context)


def _lineage_prefetch():
    return [
        Prefetch("training_datasets", queryset=Dataset.objects.order_by("name", "version")),
        Prefetch("validation_datasets", queryset=Dataset.objects.order_by("name", "version")),
        "tags",
    ]


@login_required
def model_detail(request, name):
    model = get_object_or_404(
        RegisteredModel.objects.select_related("owner", "use_case__owner").prefetch_related(
            "tags",
            Prefetch(
                "versions",
                queryset=ModelVersion.objects.select_related("created_by")
                .prefetch_related(*_lineage_prefetch())
                .order_by("-number"),
            ),
        ),
        name=name,
    )
    versions = list(model.versions.all())
    # Lineage the other way round: each dataset with the versions of this model that used it.
    datasets = {}
    for version in versions:
        for role, related in (("training", version.training_datasets.all()), ("validation", version.validation_datasets.all())):
            for dataset in related:
                entry = datasets.setdefault(dataset.pk, {"dataset": dataset, "uses": []})
                entry["uses"].append((version, role))
    context = {
        "section": "inventory",
        "model": model,
        "description_html": render_markdown(model.description),
        "versions": versions,
        "datasets": sorted(datasets.values(), key=lambda e: (e["dataset"].name, e["dataset"].version)),
        "can_write": access.model_can_write(request.user, model),
        "signoff_history": model_signoff_history(model),
    }
    return render(request, "portal/model_detail.html", context)


def _version_or_404(name, number):
    return get_object_or_404(
        ModelVersion.objects.select_related("model__owner", "model__use_case", "created_by").prefetch_related(
            *_lineage_prefetch()
        ),
        model__name=name,
        number=number,
    )


def _latest_job(version):
    return BackgroundJob.objects.select_related("created_by").filter(
        object_type="registry.modelversion", object_id=str(version.pk), kind="artifact_verify"
    ).first()


@login_required
def version_detail(request, name, number):
    version = _version_or_404(name, number)
    target = work_views.next_stage(version)
    blocker = work_views.promotion_blocker(user=request.user, version=version, target_stage=target)
    requests = list(version.promotions.select_related("requester").order_by("-created_at", "-pk")[:10])
    for promotion in requests:
        promotion.can_withdraw = promotion.status in PromotionRequest.ACTIVE and governance_access.can_withdraw(
            request.user, promotion
        )
    context = {
        "section": "inventory",
        "model": version.model,
        "version": version,
        "description_html": render_markdown(version.description),
        "job": _latest_job(version),
        "can_write": access.model_can_write(request.user, version.model),
        "target_stage": target,
        "blocker": blocker,
        # The checklist is shown before anyone asks: what the request would be judged by, now.
        "checklist": work_views.promotion_checklist_preview(version=version, target_stage=target)
        if target and governance_access.can_request_promotion(request.user, version) else None,
        "promotions": requests,
    }
    return render(request, "portal/version_detail.html", context)


@login_required
@require_POST
def version_artifact_check(request, name, number):
    """Start a re-check of the stored artifact; answers htmx with the job partial that polls."""
    version = _version_or_404(name, number)
    error = job = None
    if not access.model_can_write(request.user, version.model):
        error = "Only the model's owner, the use case's owner or an administrator may re-check its artifact."
    elif not version.has_uploaded_artifact:
        error = "This version references an external artifact; there are no stored bytes to check."
    else:
        try:
            job = model_version_artifact_check_enqueue(version=version, actor=request.user)
        except ServiceError as exc:
            error = exc.message
    if not request.headers.get("HX-Request"):
        return redirect("portal:version", name=name, number=number)
    # 200 even on refusal: htmx swaps only 2xx responses, and the refusal is the content to show.
    return render(request, "portal/_job.html", {"job": job, "error": error})


@login_required
def job_status(request, pk):
    """The job partial alone: what `_job.html` polls while the job runs."""
    return render(request, "portal/_job.html", {"job": get_object_or_404(BackgroundJob.objects.select_related("created_by"), pk=pk)})


@login_required
def datasets(request):
    queryset = Dataset.objects.select_related("owner").annotate(
        trained_count=Count("trained_versions", distinct=True),
        validated_count=Count("validated_versions", distinct=True),
    ).order_by("name", "version")
    q = request.GET.get("q", "").strip()
    if q:
        queryset = queryset.filter(Q(name__icontains=q) | Q(description__icontains=q))
    context = {
        "section": "datasets",
        "page": page_of(request, queryset),
        "q": q,
        "querystring": querystring_without_page(request),
    }
    return render(request, "portal/datasets.html", context)


@login_required
def dataset_detail(request, pk):
    dataset = get_object_or_404(Dataset.objects.select_related("owner"), pk=pk)
    used = ModelVersion.objects.select_related("model").order_by("model__name", "-number")
    context = {
        "section": "datasets",
        "dataset": dataset,
        "description_html": render_markdown(dataset.description),
        "trained": used.filter(training_datasets=dataset),
        "validated": used.filter(validation_datasets=dataset),
        **_dataset_privacy(request.user, dataset),
    }
    return render(request, "portal/dataset_detail.html", context)


def _dataset_privacy(user, dataset) -> dict:
    """Lineage up and down, and the data-subject key index (privacy)."""
    from privacy import access as privacy_access
    from privacy.models import SubjectKeyIndex
    from privacy.selectors import dataset_lineage

    return {
        "lineage": dataset_lineage(dataset),
        "key_index": SubjectKeyIndex.objects.select_related("uploaded_by").filter(dataset=dataset).first(),
        "may_upload_keys": privacy_access.can_upload_keys(user, dataset),
    }


@login_required
def use_cases(request):
    queryset = UseCase.objects.select_related("owner").annotate(
        model_count=Count("models"),
        tier=Subquery(_current_tier.filter(use_case=OuterRef("pk")).values("tier")[:1]),
    ).order_by("name")
    q = request.GET.get("q", "").strip()
    if q:
        queryset = queryset.filter(Q(name__icontains=q) | Q(purpose__icontains=q) | Q(business_unit__icontains=q))
    context = {
        "section": "use_cases",
        "page": page_of(request, queryset),
        "q": q,
        "querystring": querystring_without_page(request),
    }
    return render(request, "portal/use_cases.html", context)


@login_required
def use_case_detail(request, pk):
    use_case = get_object_or_404(UseCase.objects.select_related("owner"), pk=pk)
    models = (
        use_case.models.select_related("owner")
        .annotate(version_count=Count("versions"), latest_number=Max("versions__number"))
        .order_by("name")
    )
    context = {
        "section": "use_cases",
        "use_case": use_case,
        "purpose_html": render_markdown(use_case.purpose),
        "models": models,
        "classification": governance.selectors.classification_current(use_case=use_case),
    }
    return render(request, "portal/use_case_detail.html", context)
