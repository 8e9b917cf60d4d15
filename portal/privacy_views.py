"""The portal's data-subject rights pages: requests and their receipts, obligations, the key
index upload. Read with bounded queries, write only through `privacy.services`; a refusal shows
the service's message with its status."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core.errors import ServiceError
from privacy import access, selectors
from privacy import services as privacy
from privacy.models import Obligation, SubjectRequest
from registry.models import Dataset, ModelVersion

from .paging import page_of


class RequestForm(forms.Form):
    kind = forms.ChoiceField(choices=SubjectRequest.Kind.choices, label="Right exercised")
    subject_key = forms.CharField(required=False, max_length=256, label="Data subject's key",
                                  help_text="Hashed on arrival; the key itself is not stored.")
    datasets = forms.ModelMultipleChoiceField(queryset=Dataset.objects.order_by("name", "version"), required=False,
                                              label="Datasets concerned", help_text="Where no key index can tell.")
    reference = forms.CharField(required=False, max_length=200, label="Case reference",
                                help_text="Your reference; no personal data.")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


class SignForm(forms.Form):
    # Whether a statement is needed, and who may sign, is `privacy.services.obligation_sign`'s.
    statement = forms.CharField(required=False, max_length=5000)


class RetrainedForm(forms.Form):
    version = forms.IntegerField(min_value=1, error_messages={
        "required": "Choose a version of this model by its number.",
        "invalid": "Choose a version of this model by its number.",
        "min_value": "Choose a version of this model by its number.",
    })


class SubjectKeysForm(forms.Form):
    file = forms.FileField(error_messages={"required": "Choose a file of keys, one per line."})


def _problems(form: forms.Form) -> str:
    return " ".join(m for ms in form.errors.values() for m in ms)


def _errors(exc: ServiceError) -> str:
    return " ".join([exc.message, *(m for v in exc.fields.values() for m in v)])


@login_required
def requests(request):
    """Data-subject requests; risk officers and admins record new ones here."""
    form = RequestForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                made = privacy.subject_request_create(actor=request.user, **form.cleaned_data)
            except ServiceError as exc:
                messages.error(request, _errors(exc))
                status = exc.status_code
            else:
                messages.success(request, f"{made} recorded.")
                return redirect("portal:privacy-request", pk=made.pk)
        else:
            status = 400
    context = {
        "section": "privacy",
        "page": page_of(request, SubjectRequest.objects.select_related("created_by").order_by("-created_at", "-pk")),
        "form": form,
        "may_create": access.can_make_request(request.user),
    }
    return render(request, "portal/privacy/requests.html", context, status=status)


def _obligation_rows(user, obligations):
    return [{**selectors.obligation_body(o), "may_sign": bool(access.signing_capacities(user, o)),
             "may_retrain": access.can_record_retraining(user, o)} for o in obligations]


@login_required
def request_detail(request, pk, status=200):
    """The receipt: the request, its impact, each obligation's closure and who signed."""
    made = get_object_or_404(SubjectRequest.objects.select_related("created_by"), pk=pk)
    receipt = selectors.request_receipt(made)
    obligations = selectors.obligations_with_details().filter(request=made).order_by("model__name", "pk")
    context = {"section": "privacy", "receipt": receipt, "obligations": _obligation_rows(request.user, obligations)}
    return render(request, "portal/privacy/request_detail.html", context, status=status)


@login_required
def obligations(request, status=200):
    queryset = selectors.obligations_with_details().order_by("status", "due_date", "pk")
    model = request.GET.get("model", "").strip()
    if model:
        queryset = queryset.filter(model__name=model)
    page = page_of(request, queryset)
    context = {"section": "privacy", "page": page, "rows": _obligation_rows(request.user, page.object_list),
               "model": model}
    return render(request, "portal/privacy/obligations.html", context, status=status)


def _back(request, obligation: Obligation, status=None):
    if status is not None:
        if obligation.request_id:
            return request_detail(request, obligation.request_id, status=status)
        return obligations(request, status=status)
    return redirect(obligation.get_absolute_url())


@login_required
@require_POST
def obligation_sign(request, pk):
    obligation = get_object_or_404(Obligation, pk=pk)
    form = SignForm(request.POST)
    if not form.is_valid():
        messages.error(request, _problems(form))
        return _back(request, obligation, 400)
    try:
        obligation = privacy.obligation_sign(actor=request.user, obligation=obligation,
                                             statement=form.cleaned_data["statement"])
    except ServiceError as exc:
        messages.error(request, _errors(exc))
        return _back(request, obligation, exc.status_code)
    messages.success(request, "Risk acceptance signed." + (" The obligation is closed." if obligation.status != "open" else
                                                            " It needs the second signature."))
    return _back(request, obligation)


@login_required
@require_POST
def obligation_retrained(request, pk):
    obligation = get_object_or_404(Obligation, pk=pk)
    form = RetrainedForm(request.POST)
    version = ModelVersion.objects.filter(model_id=obligation.model_id, number=form.cleaned_data["version"]).first() \
        if form.is_valid() else None
    if version is None:
        messages.error(request, _problems(form) or f"{obligation.model} has no version {form.cleaned_data['version']}.")
        return _back(request, obligation, 400)
    try:
        privacy.obligation_close_retrained(actor=request.user, obligation=obligation, version=version)
    except ServiceError as exc:
        messages.error(request, _errors(exc))
        return _back(request, obligation, exc.status_code)
    messages.success(request, f"Closed: {version} was retrained without the affected data.")
    return _back(request, obligation)


@login_required
@require_POST
def subject_keys(request, pk):
    """The dataset owner's upload of its data-subject keys (one per line)."""
    from .views import dataset_detail

    dataset = get_object_or_404(Dataset, pk=pk)
    form = SubjectKeysForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _problems(form))
        status = 400
    else:
        try:
            index = privacy.subject_keys_upload(actor=request.user, dataset=dataset, fileobj=form.cleaned_data["file"])
        except ServiceError as exc:
            messages.error(request, _errors(exc))
            status = exc.status_code
        else:
            messages.success(request, f"{index.key_count} key(s) stored as salted hashes.")
            return redirect("portal:dataset", pk=pk)
    response = dataset_detail(request, pk)
    response.status_code = status
    return response
