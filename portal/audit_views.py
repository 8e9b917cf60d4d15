"""The auditors' console: the trail with people's words, a rendered before/after of each change,
filters (model, use case, person, action, period), export of the filtered set, the chain's
status, and the point-in-time question.

Who reaches it: the roles that read the whole trail (`core.role_permissions.VIEW_ONLY_ROLES`:
auditors, risk officers, administrators — the same groups that get `audit.view_auditevent`): the
auditor role is enough, no "staff status" needed. Export is decided by `audit.exports.audit_export`
itself (the `audit.export_auditevent` permission).
"""

from datetime import datetime, time

import django_filters as filters
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from audit import selectors as audit_selectors
from audit.exports import FORMATS, audit_export
from audit.models import AuditEvent
from audit.selectors import stage_snapshot
from audit.verify import audit_chain_verify
from core.role_permissions import VIEW_ONLY_ROLES
from core.roles import has_role
from registry.models import RegisteredModel, UseCase

from . import labels
from .paging import page_of, querystring_without_page


def can_read_trail(user) -> bool:
    return has_role(user, *VIEW_ONLY_ROLES)


def _require_reader(user) -> None:
    if not can_read_trail(user):
        raise PermissionDenied("The audit console is for auditors, risk officers and administrators.")


def latest_checkpoint():
    """The newest validly signed checkpoint of the chain (`{"seq", "hash", "time"}`), or None."""
    return audit_selectors.latest_checkpoint()


# --- filters -----------------------------------------------------------------------------------


def _model_q(name: str) -> Q:
    """Events about a model: the model itself, its versions and promotions ("<name> v…", names have
    no spaces), and events that name it in their changes (stage changes, reviews)."""
    return (
        Q(object_type="registry.registeredmodel", object_repr=name)
        | Q(object_repr__startswith=f"{name} v")
        | Q(changes__model__after=name)
    )


def _action_choices():
    groups = {}
    for code, label in sorted(labels.ACTIONS.items(), key=lambda item: item[1]):
        family = labels.ACTION_FAMILIES.get(code.split(".")[0], code.split(".")[0])
        groups.setdefault(family, []).append((code, label))
    return sorted(groups.items())


class AuditEventFilter(filters.FilterSet):
    model = filters.ModelChoiceFilter(
        queryset=RegisteredModel.objects.order_by("name"), to_field_name="name", method="filter_model",
        label="Model", empty_label="Any model",
    )
    use_case = filters.ModelChoiceFilter(
        queryset=UseCase.objects.order_by("name"), method="filter_use_case", label="Use case", empty_label="Any use case",
    )
    person = filters.ModelChoiceFilter(
        queryset=get_user_model().objects.order_by("username"), to_field_name="username", method="filter_person",
        label="Person", empty_label="Anyone",
    )
    action = filters.ChoiceFilter(choices=_action_choices, label="Action", empty_label="Any action")
    since = filters.DateFilter(field_name="timestamp", lookup_expr="date__gte", label="From",
                               widget=forms.DateInput(attrs={"type": "date"}))
    until = filters.DateFilter(field_name="timestamp", lookup_expr="date__lte", label="To",
                               widget=forms.DateInput(attrs={"type": "date"}))
    q = filters.CharFilter(method="filter_q", label="Object contains")

    class Meta:
        model = AuditEvent
        fields = ["model", "use_case", "person", "action", "since", "until", "q"]

    def filter_model(self, queryset, name, value):
        return queryset.filter(_model_q(value.name))

    def filter_use_case(self, queryset, name, value):
        where = Q(object_type="registry.usecase", object_id=str(value.pk))
        for model_name in value.models.values_list("name", flat=True):
            where |= _model_q(model_name)
        return queryset.filter(where)

    def filter_person(self, queryset, name, value):
        return queryset.filter(actor_username=value.username)

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(object_repr__icontains=value) | Q(request_id=value))


# --- rendering a change --------------------------------------------------------------------------

_STAGE_KEYS = {"stage", "target_stage", "from_stage"}


def _value_html(key: str, value):
    if value is None or value == "":
        return mark_safe('<span class="muted">—</span>')
    if isinstance(value, bool):
        return labels.yes_no(value)
    if key in _STAGE_KEYS and isinstance(value, str):
        return labels.stage_label(value)
    if key == "legal_basis":
        return labels.lawful_basis_label(value)
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return ", ".join(str(v) for v in value) or mark_safe('<span class="muted">none</span>')
        return format_html("<ol>{}</ol>", format_html_join("", "<li>{}</li>", ((_value_html(key, v),) for v in value)))
    if isinstance(value, dict):
        return format_html('<dl class="kv">{}</dl>', format_html_join(
            "", "<dt>{}</dt><dd>{}</dd>", ((labels.field_label(k), _value_html(k, v)) for k, v in value.items())
        ))
    return str(value)


def _flatten(value, prefix=""):
    """{"a": {"b": 1}} → {"a › b": 1}: nested settings compared leaf by leaf."""
    if isinstance(value, dict):
        out = {}  # an empty dict has no leaves: what appears in the other side is the change
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix} › {k}" if prefix else str(k)))
        return out
    return {prefix: value}


def change_rows(changes) -> list[dict]:
    """Rows {field, before, after} (HTML-safe) for an event's `changes`. A change of a nested
    setting (a RACI matrix, a policy) shows only the leaves that changed."""
    rows = []
    if not isinstance(changes, dict):
        return [{"field": "Value", "before": None, "after": _value_html("", changes)}]
    for key, change in changes.items():
        is_change = isinstance(change, dict) and set(change) == {"before", "after"}
        if not is_change:
            rows.append({"field": labels.field_label(key), "before": None, "after": _value_html(key, change), "note": True})
            continue
        before, after = change["before"], change["after"]
        if isinstance(before, dict) and isinstance(after, dict):
            flat_before, flat_after = _flatten(before), _flatten(after)
            for path in sorted(set(flat_before) | set(flat_after)):
                if flat_before.get(path) != flat_after.get(path):
                    leaf = path.rsplit(" › ", 1)[-1]
                    rows.append({
                        "field": f"{labels.field_label(key)} › {path}",
                        "before": _value_html(leaf, flat_before.get(path)),
                        "after": _value_html(leaf, flat_after.get(path)),
                    })
            continue
        rows.append({"field": labels.field_label(key), "before": _value_html(key, before), "after": _value_html(key, after)})
    return rows


# --- pages ---------------------------------------------------------------------------------------


def _filtered(request):
    return AuditEventFilter(request.GET or None, queryset=AuditEvent.objects.order_by("-seq"))


@login_required
def events(request):
    _require_reader(request.user)
    filterset = _filtered(request)
    queryset = filterset.qs if filterset.is_bound and filterset.is_valid() else AuditEvent.objects.none()
    if not filterset.is_bound:
        queryset = AuditEvent.objects.order_by("-seq")
    page = page_of(request, queryset)
    for event in page:
        event.rows = change_rows(event.changes)
        event.label = labels.action_label(event.action)
    context = {
        "section": "audit",
        "filter": filterset,
        "page": page,
        "querystring": querystring_without_page(request),
        "can_export": request.user.has_perm("audit.export_auditevent"),
        "formats": FORMATS,
    }
    return render(request, "portal/audit/events.html", context, status=400 if filterset.errors else 200)


@login_required
def chain(request):
    """The chain's status, verified now (walks the whole trail; the console loads it separately)."""
    _require_reader(request.user)
    return render(request, "portal/audit/_chain.html", {
        "report": audit_chain_verify(), "checkpoint": latest_checkpoint(), "checked_at": timezone.now(),
    })


@login_required
def export(request):
    """Stream the filtered set (the console's filters) as CSV or JSON lines, oldest first."""
    _require_reader(request.user)
    fmt = request.GET.get("format", "csv")
    filterset = _filtered(request)
    if fmt not in FORMATS or (filterset.is_bound and not filterset.is_valid()):
        return render(request, "portal/refused.html", {
            "section": "audit", "message": "Choose CSV or JSON lines, and filters the console offers.",
        }, status=400)
    queryset = filterset.qs if filterset.is_bound else AuditEvent.objects.all()
    wanted = {k: v for k, v in request.GET.items() if k not in ("format", "page") and v}
    return audit_export(actor=request.user, queryset=queryset, fmt=fmt, filters=wanted, via="portal")


@login_required
def event_detail(request, seq):
    _require_reader(request.user)
    event = get_object_or_404(AuditEvent, seq=seq)
    same_request = (
        AuditEvent.objects.filter(request_id=event.request_id).exclude(pk=event.pk).order_by("seq")[:20]
        if event.request_id else []
    )
    context = {
        "section": "audit", "event": event, "label": labels.action_label(event.action),
        "rows": change_rows(event.changes), "same_request": same_request,
    }
    return render(request, "portal/audit/event.html", context)


class PointInTimeForm(forms.Form):
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}),
                           help_text="Leave empty for the end of that day.")

    def instant(self) -> datetime:
        moment = self.cleaned_data.get("time") or time(23, 59, 59, 999999)
        return timezone.make_aware(datetime.combine(self.cleaned_data["date"], moment))


@login_required
def point_in_time(request):
    """What was in production (and every other stage) at an instant, who moved it there, who
    approved it and under which policy version — replayed from the trail (`stage_snapshot`)."""
    _require_reader(request.user)
    form = PointInTimeForm(request.GET or None)
    rows, at = [], None
    if form.is_bound and form.is_valid():
        at = form.instant()
        snapshot = stage_snapshot(at=at)
        stage_order = list(labels.STAGES)
        for entry in snapshot["models"]:
            for stage, versions in sorted(entry["stages"].items(), key=lambda s: -stage_order.index(s[0]) if s[0] in stage_order else 0):
                for version in versions:
                    approved = version["approved_by"]
                    rows.append({
                        "model": entry["model"], "stage": stage, **version,
                        "since": datetime.fromisoformat(version["since"]),
                        "approved": ", ".join(approved) if isinstance(approved, list) else (approved or ""),
                    })
        only = request.GET.get("stage", "production")
        if only != "all":
            rows = [r for r in rows if r["stage"] == only]
    context = {
        "section": "audit", "form": form, "rows": rows, "at": at,
        "stage": request.GET.get("stage", "production"), "stages": labels.STAGES,
        "models": set(RegisteredModel.objects.filter(name__in={r["model"] for r in rows}).values_list("name", flat=True)),
    }
    return render(request, "portal/audit/point_in_time.html", context, status=400 if form.errors else 200)
