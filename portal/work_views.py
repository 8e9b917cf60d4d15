"""The data scientists' pages: register a model and a version (artifact upload with progress),
ask for the next stage with the checklist shown first, withdraw a request, upload experiment
events. Every write calls the service that owns it (registry, governance, abtests); buttons are
shown only when the app's access function says the service would accept.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

import governance.checklist
import governance.promotions
import governance.selectors
from abtests import access as abtests_access
from abtests import ingest as abtests_ingest
from abtests.models import Experiment
from core.api import PayloadTooLarge
from core.errors import InvalidInput, ServiceError
from governance import access as governance_access
from governance.models import PromotionRequest
from registry import access
from registry import services as registry_services
from registry.models import STAGE_ORDER, ModelVersion, RegisteredModel, Stage
from registry.uploads import MULTIPART_OVERHEAD, HashingUploadHandler, too_large_message

from .forms import (
    EventsUploadForm,
    ModelForm,
    PromotionRequestForm,
    VersionForm,
    add_service_errors,
)

# --- selectors (read-only) -------------------------------------------------------------------


def next_stage(version: ModelVersion) -> str | None:
    """The stage a request from this version's current stage asks for (the governed path)."""
    if version.stage in (Stage.PRODUCTION, Stage.ARCHIVED):
        return None
    return STAGE_ORDER[STAGE_ORDER.index(version.stage) + 1]


def promotion_checklist_preview(*, version: ModelVersion, target_stage: str) -> list[dict]:
    """The checklist a request to move `version` to `target_stage` would get, judged now — before
    the request exists. Governance's own `promotion_checklist` on an unsaved draft carrying what
    `promotion_request` would give it (the policy in force, the use case's current tier). The draft
    is never saved; it gets pk 0, which no row has, so its sign-offs read as none."""
    classification = governance.selectors.classification_current(use_case=version.model.use_case)
    draft = PromotionRequest(
        pk=0, version=version, from_stage=version.stage, target_stage=target_stage,
        policy=governance.selectors.policy_current(), tier=classification.tier if classification else 1,
        sha256=version.sha256,
    )
    return governance.checklist.promotion_checklist(promotion=draft)


def promotion_blocker(*, user, version: ModelVersion, target_stage: str | None) -> str:
    """Why `promotion_request` would refuse this person now ('' when it would accept). Each check
    is the service's own: access function, stage path, classification, one open request."""
    if target_stage is None:
        return "This version is at the end of the governed path; a production version can only be archived."
    if not governance_access.can_request_promotion(user, version):
        return "Only the model's owner, the use case's owner or an administrator requests its promotions."
    if governance.selectors.classification_current(use_case=version.model.use_case) is None:
        return f"Classify the use case '{version.model.use_case}' before promoting its models."
    if version.promotions.filter(target_stage=target_stage, status__in=PromotionRequest.ACTIVE).exists():
        return f"A request to move this version to {Stage(target_stage).label} is already open."
    return ""


def my_work(user) -> dict:
    """A data scientist's models, running experiments they feed, and their open requests."""
    models = (
        RegisteredModel.objects.filter(Q(owner=user) | Q(use_case__owner=user))
        .select_related("use_case").order_by("name")
    )
    experiments = Experiment.objects.filter(status=Experiment.Status.RUNNING).filter(
        Q(model__owner=user) | Q(model__use_case__owner=user)
    ).select_related("model").order_by("name")
    requests = PromotionRequest.objects.filter(requester=user, status__in=PromotionRequest.ACTIVE).select_related(
        "version__model"
    ).order_by("-created_at", "-pk")
    return {"models": models, "experiments": experiments, "requests": requests}


# --- pages -----------------------------------------------------------------------------------


@login_required
def work(request):
    """The data scientist's home: what they own, where to register, what they asked for."""
    context = {"section": "work", "can_register": access.can_register(request.user), **my_work(request.user)}
    return render(request, "portal/work.html", context)


@login_required
def model_new(request):
    if not access.can_register(request.user):
        return render(request, "portal/refused.html", {
            "section": "work", "message": "Only data scientists and administrators register models.",
        }, status=403)
    form = ModelForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                model = registry_services.model_create(actor=request.user, **form.cleaned_data)
            except ServiceError as exc:
                add_service_errors(form, exc)
                status = exc.status_code
            else:
                messages.success(request, f"Model {model.name} is registered. Add its first version.")
                return redirect("portal:version-new", name=model.name)
    # A refused form answers the refusal's status (400, 409…), like every other portal form.
    return render(request, "portal/model_new.html", {"section": "work", "form": form}, status=status)


def _version_form_response(request, form, model, status):
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        html = render_to_string("portal/_version_form.html", {"form": form, "model": model}, request=request)
        return JsonResponse({"form": html}, status=status)
    return render(request, "portal/version_new.html", {"section": "work", "form": form, "model": model}, status=status)


@csrf_exempt
def version_new(request, name):
    """Register the next version. The artifact streams through registry's hashing upload handler
    (SHA-256 and size computed while the bytes arrive, refused past ARTIFACT_MAX_BYTES); the page's
    script posts with XMLHttpRequest to show upload progress and gets JSON back."""
    # The upload handler must be set before the body is read, and the CSRF check reads it: so the
    # view is exempt and runs the check itself, after swapping the handler (Django's documented way).
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    request.upload_handlers = [HashingUploadHandler(request)]
    return _version_new(request, name)


@csrf_protect
def _version_new(request, name):
    model = get_object_or_404(RegisteredModel.objects.select_related("use_case"), name=name)
    if not access.model_can_write(request.user, model):
        return render(request, "portal/refused.html", {
            "section": "work",
            "message": "Only the model's owner, the use case's owner or an administrator adds versions to it.",
        }, status=403)
    if request.method != "POST":
        return _version_form_response(request, VersionForm(), model, 200)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    try:
        if length > settings.ARTIFACT_MAX_BYTES + MULTIPART_OVERHEAD:
            raise PayloadTooLarge(too_large_message())
        form = VersionForm(request.POST, request.FILES)
        valid = form.is_valid()
    except PayloadTooLarge as exc:
        form = VersionForm({})  # bound and empty, so it can carry the refusal
        form.is_valid()
        form.add_error(None, str(exc.detail))
        return _version_form_response(request, form, model, 413)
    if valid:
        try:
            version = registry_services.model_version_register(actor=request.user, model=model, **form.service_kwargs())
        except ServiceError as exc:
            add_service_errors(form, exc)
        except PayloadTooLarge as exc:
            form.add_error("artifact", str(exc.detail))
        else:
            messages.success(request, f"{version} is registered; its artifact is being checked.")
            url = reverse("portal:version", args=[model.name, version.number])
            if request.headers.get("X-Requested-With") == "XMLHttpRequest":
                return JsonResponse({"redirect": url}, status=201)
            return redirect(url)
    return _version_form_response(request, form, model, 400)


@login_required
@require_POST
def version_request(request, name, number):
    """Ask for the next stage (the version page shows the checklist before this is posted)."""
    version = get_object_or_404(ModelVersion.objects.select_related("model__use_case"), model__name=name, number=number)
    form = PromotionRequestForm(request.POST)
    if form.is_valid():
        try:
            promotion = governance.promotions.promotion_request(
                actor=request.user, version=version, target_stage=form.cleaned_data["target_stage"],
                reason=form.cleaned_data["reason"],
            )
        except ServiceError as exc:
            detail = "; ".join(m for ms in exc.fields.values() for m in (ms if isinstance(ms, list) else [ms]))
            messages.error(request, f"{exc.message} {detail}".strip())
        else:
            messages.success(request, f"Your request to move {version} to {Stage(promotion.target_stage).label} is open.")
            return redirect("portal:promotion", pk=promotion.pk)
    return redirect("portal:version", name=name, number=number)


@login_required
@require_POST
def promotion_withdraw(request, pk):
    promotion = get_object_or_404(PromotionRequest.objects.select_related("version__model"), pk=pk)
    try:
        governance.promotions.promotion_withdraw(promotion=promotion, actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Your request #{promotion.pk} is withdrawn.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = reverse("portal:version", args=[promotion.version.model.name, promotion.version.number])
    return redirect(target)


@login_required
def experiment_events(request, pk):
    """Upload a batch of events to a running experiment; a rejected batch lists its bad rows."""
    experiment = get_object_or_404(Experiment.objects.select_related("model__use_case"), pk=pk)
    can_upload = abtests_access.can_run(request.user, experiment)
    form = EventsUploadForm(request.POST, request.FILES) if request.method == "POST" else EventsUploadForm()
    row_errors, result = [], None
    if request.method == "POST" and can_upload and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            batch, created = abtests_ingest.events_ingest(
                actor=request.user, experiment=experiment, body=upload, content_type=form.content_type(),
                content_length=upload.size,
            )
        except InvalidInput as exc:
            row_errors = exc.fields.get("rows", [])
            other = {k: v for k, v in exc.fields.items() if k != "rows"}
            form.add_error(None, exc.message)
            for key, values in other.items():
                for value in values:
                    form.add_error(None, f"{key}: {value}")
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            result = {"batch": batch, "created": created}
            form = EventsUploadForm()
    context = {
        "section": "work", "experiment": experiment, "form": form, "can_upload": can_upload,
        "running": experiment.status == Experiment.Status.RUNNING, "row_errors": row_errors, "result": result,
    }
    if request.method == "POST" and not can_upload:
        status = 403  # refused: nothing was read or stored
    else:
        status = 400 if (row_errors or form.errors) else 200
    return render(request, "portal/experiment_events.html", context, status=status)
