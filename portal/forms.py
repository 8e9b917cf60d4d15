"""Forms of the data scientists' pages. They only parse what a person typed; the services in
registry/, governance/ and abtests/ validate and decide (their `InvalidInput.fields` come back onto
the form with `add_service_errors`, which every portal form uses)."""

import json

from django import forms

from registry.models import Dataset, UseCase


class KeyValueField(forms.CharField):
    """Lines of `key = value` → a dict. Numbers, true/false and null are read as JSON; anything else
    stays text. Metrics and params are flat key–value pairs in the portal (the API takes nesting)."""

    widget = forms.Textarea(attrs={"rows": 4, "spellcheck": "false"})

    def to_python(self, value):
        text = super().to_python(value)
        result = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, raw = line.partition("=")
            key, raw = key.strip(), raw.strip()
            if not sep or not key:
                raise forms.ValidationError(f"Line {number}: write it as key = value.")
            if key in result:
                raise forms.ValidationError(f"Line {number}: '{key}' is given twice.")
            try:
                result[key] = json.loads(raw)
            except ValueError:
                result[key] = raw
            if isinstance(result[key], (dict, list)):
                result[key] = raw
        return result

    def prepare_value(self, value):
        if isinstance(value, dict):
            return "\n".join(f"{k} = {json.dumps(v) if not isinstance(v, str) else v}" for k, v in value.items())
        return value


def _tags(value: str) -> list[str]:
    return [t.strip() for t in value.replace(";", ",").split(",") if t.strip()]


def add_service_errors(form: forms.Form, exc, *, rename=None, with_message: bool = True) -> None:
    """Put a service's `ServiceError.fields` on the form — the one way every portal form does it.

    Each key, `rename`d to an input's name where the service's key is not one (`answers.decay` →
    `q-decay`; None for "the form as a whole"), goes next to that input; a key no input matches
    goes on the form, named. With no fields the service's message goes on the form, unless the
    view shows it otherwise (`with_message=False`: the governance pages show it above the form)."""
    if not exc.fields:
        if with_message:
            form.add_error(None, exc.message)
        return
    for key, problems in exc.fields.items():
        name = rename(key) if rename else key
        for problem in problems if isinstance(problems, list) else [problems]:
            if name in form.fields:
                form.add_error(name, str(problem))
            elif name is None or key in ("__all__", "non_field_errors"):
                form.add_error(None, str(problem))
            else:
                form.add_error(None, f"{key.replace('_', ' ')}: {problem}")


class ModelForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="Letters, digits, '.', '_' and '-'; it appears in URLs.")
    use_case = forms.ModelChoiceField(queryset=UseCase.objects.order_by("name"), empty_label="Choose the use case…")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}), help_text="Markdown.")
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. credit, gbm.")

    def clean_tags(self):
        return _tags(self.cleaned_data["tags"])


class DatasetChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name}@{obj.version}" + (" (personal data)" if obj.contains_personal_data else "")


class VersionForm(forms.Form):
    # One of the two is required (the service says so); neither is "optional".
    either_fields = ("artifact", "artifact_uri", "sha256")

    artifact = forms.FileField(
        required=False, label="Artifact file",
        help_text="The serialised model; its SHA-256 is computed as it uploads. Or give an external URI below.",
    )
    artifact_uri = forms.CharField(
        required=False, max_length=1000, label="…or an external artifact URI",
        help_text="Where the artifact is stored elsewhere; then give its SHA-256.",
    )
    sha256 = forms.CharField(required=False, max_length=64, label="SHA-256 of the external artifact")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    framework = forms.CharField(required=False, max_length=80, help_text="e.g. scikit-learn 1.5, xgboost 2.1")
    training_datasets = DatasetChoices(
        queryset=Dataset.objects.order_by("name", "version"), required=False,
        widget=forms.CheckboxSelectMultiple, help_text="The datasets this version was trained on.",
    )
    validation_datasets = DatasetChoices(
        queryset=Dataset.objects.order_by("name", "version"), required=False, widget=forms.CheckboxSelectMultiple,
    )
    code_repository = forms.CharField(required=False, max_length=500)
    code_commit = forms.CharField(required=False, max_length=64)
    training_run = forms.CharField(required=False, max_length=500, help_text="Training run id or URI.")
    metrics = KeyValueField(required=False, help_text="One per line: key = value, e.g. auc = 0.81")
    params = KeyValueField(required=False, label="Parameters", help_text="One per line: key = value, e.g. max_depth = 6")
    tags = forms.CharField(required=False, help_text="Comma-separated.")

    def clean_tags(self):
        return _tags(self.cleaned_data["tags"])

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        if not data.get("artifact"):
            data["artifact"] = None
        return data


class PromotionRequestForm(forms.Form):
    target_stage = forms.CharField(widget=forms.HiddenInput)
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="What the approvers should know.")


class EventsUploadForm(forms.Form):
    FORMATS = {"csv": "text/csv", "ndjson": "application/x-ndjson"}

    file = forms.FileField(label="Events file", help_text="CSV with a header row, or NDJSON (one JSON object per line).")
    format = forms.ChoiceField(
        choices=[("", "From the file name"), ("csv", "CSV"), ("ndjson", "NDJSON")], required=False,
    )

    def content_type(self) -> str:
        fmt = self.cleaned_data.get("format")
        if not fmt:
            name = self.cleaned_data["file"].name.lower()
            fmt = "ndjson" if name.endswith((".ndjson", ".jsonl", ".json")) else "csv"
        return self.FORMATS[fmt]
