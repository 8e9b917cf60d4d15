"""Forms of the governance pages (classification, RACI, policy, reviews, proposals, exceptions,
sign-offs). They parse what a person typed into the shapes the services take; the services in
`governance` decide the rules, and their `ServiceError.fields` come back onto these forms
(`attach`, or a form's own `add_service_errors` where a service's key names a row, not an input).

Input names stay those of the templates (`q-<question>`, `cell-<task>-<role>`, `text-0`…), so the
pages and their browser tests keep working.
"""

from django import forms

import governance.gate_exceptions
from governance import defaults
from governance.gates import all_gates

from .forms import add_service_errors


def attach(form: forms.Form, exc, rename=None) -> None:
    """`add_service_errors` for pages that show the service's message above the form."""
    add_service_errors(form, exc, rename=rename, with_message=False)


def errors_of(form: forms.Form | None) -> dict[str, list[str]]:
    """{input name: [messages]} for the templates that lay their inputs out by hand."""
    if form is None or not form.is_bound:
        return {}
    return {name: list(problems) for name, problems in form.errors.items()}


# --- classification ---------------------------------------------------------------------------


class ClassificationForm(forms.Form):
    """The questionnaire of the scheme in force: a choice per question (`q-<key>`), a text per
    ethical question (`e-<key>`). Unanswered questions are the service's to flag (its rule, with
    its words), so no field is required here."""

    def __init__(self, *args, scheme_data: dict, **kwargs):
        super().__init__(*args, **kwargs)
        for q in scheme_data.get("questions", []):
            self.fields[f"q-{q['key']}"] = forms.ChoiceField(
                required=False, label=q.get("label", q["key"]),
                choices=[("", "—")] + [(c["key"], c.get("label", c["key"])) for c in q["choices"]],
            )
        for e in scheme_data.get("ethics", []):
            self.fields[f"e-{e['key']}"] = forms.CharField(required=False, label=e.get("label", e["key"]), max_length=5000)

    def _values(self, prefix: str) -> dict:
        data = getattr(self, "cleaned_data", {})
        return {name[len(prefix):]: value for name, value in data.items() if name.startswith(prefix) and value}

    def answers(self) -> dict:
        """The answers given (valid ones only: a preview may be asked for a half-filled form)."""
        return self._values("q-")

    def ethics(self) -> dict:
        return self._values("e-")

    @staticmethod
    def input_for(key: str) -> str:
        """The service's `answers.<q>` / `ethics.<e>` → the input's name."""
        group, _, name = key.partition(".")
        return {"answers": f"q-{name}", "ethics": f"e-{name}"}.get(group, key)


class OverrideForm(forms.Form):
    tier = forms.TypedChoiceField(coerce=int, choices=[("", "Choose a tier…")] + sorted(defaults.TIERS.items()))
    # Required by the rule (the service's), not by the form: its message says why.
    justification = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


# --- RACI ---------------------------------------------------------------------------------------


def _usernames(value: str) -> list[str]:
    return [n.strip() for n in value.replace(";", ",").split(",") if n.strip()]


class RaciForm(forms.Form):
    """The grid (`cell-<task>-<role>`: one of R, A, A/R, C, I or empty) and the people per role
    (`people-<role>`: usernames separated by commas). Which matrix is valid is the service's rule;
    its per-task messages (`cells.<task>`) are kept per row in `row_errors`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        values = [(v, v or "–") for v in defaults.RACI_VALUES]
        for task, task_label in defaults.RACI_TASKS.items():
            for role, role_label in defaults.RACI_ROLES.items():
                self.fields[f"cell-{task}-{role}"] = forms.ChoiceField(
                    required=False, choices=values, label=f"{task_label} — {role_label}"
                )
        for role, role_label in defaults.RACI_ROLES.items():
            self.fields[f"people-{role}"] = forms.CharField(required=False, label=role_label, max_length=2000)
        self.row_errors: dict[str, list[str]] = {}

    def cells(self) -> dict:
        return {
            task: {role: self.cleaned_data.get(f"cell-{task}-{role}", "") for role in defaults.RACI_ROLES}
            for task in defaults.RACI_TASKS
        }

    def typed_people(self) -> dict:
        """What was typed per role, to show again."""
        return {role: self.data.get(f"people-{role}", "") for role in defaults.RACI_ROLES}

    def assignments(self) -> dict:
        return {role: _usernames(self.cleaned_data.get(f"people-{role}", "")) for role in defaults.RACI_ROLES}

    def add_service_errors(self, exc) -> None:
        for key, problems in exc.fields.items():
            problems = [str(p) for p in (problems if isinstance(problems, list) else [problems])]
            group, _, name = key.partition(".")
            if group == "cells" and name in defaults.RACI_TASKS:
                self.row_errors.setdefault(name, []).extend(problems)
            elif group == "assignments" and f"people-{name}" in self.fields:
                for problem in problems:
                    self.add_error(f"people-{name}", problem)
            else:
                for problem in problems:
                    self.add_error(None, problem)


# --- policy -------------------------------------------------------------------------------------


class MeasureForm(forms.Form):
    """One measure of a policy cell. Its inputs are named `<field>-<row>` (`text-0`, `gate-0`…):
    the row number is the form's prefix, written after the field's name."""

    text = forms.CharField(required=False, max_length=500)
    # Gate keys are checked by the service (a policy may name a gate no app registers yet).
    gate = forms.CharField(required=False, max_length=100)
    role = forms.CharField(required=False, max_length=50)
    count = forms.IntegerField(required=False)
    stages = forms.MultipleChoiceField(required=False, choices=[(s, s) for s in defaults.GOVERNED_STAGES])
    remove = forms.BooleanField(required=False)

    def add_prefix(self, field_name):
        return f"{field_name}-{self.prefix}" if self.prefix is not None else field_name

    def measure(self, original: dict | None) -> dict | None:
        """The measure as typed, or None when removed or empty. A gate's other params (e.g.
        subpopulations) are kept from the `original` measure of this row when its gate is the same."""
        data = self.cleaned_data
        gate = data["gate"]
        # An approvals measure's text is written from its role and count by the service.
        if data["remove"] or not (data["text"] or gate == "approvals"):
            return None
        measure = {"text": data["text"]}
        if gate:
            before = original if original and original.get("gate") == gate else {}
            params = dict(before.get("params", {}) or {})
            if gate == "approvals":
                params["role"] = data["role"] or "any"
                params["count"] = data["count"]
            measure.update(gate=gate, params=params, stages=data["stages"])
        return measure


# The most rows a cell form is read with (a cell holds a handful of measures).
MAX_MEASURES = 50


class PolicyCellForm(forms.Form):
    """One tier × consideration cell: how many measure rows were shown, the policy version they
    were shown from (`base`), why the change is made; the rows are `MeasureForm`s."""

    base = forms.IntegerField(widget=forms.HiddenInput)
    rows = forms.IntegerField(min_value=0, max_value=MAX_MEASURES, widget=forms.HiddenInput)
    comment = forms.CharField(required=False, max_length=300)

    def __init__(self, *args, current, **kwargs):
        super().__init__(*args, **kwargs)
        self.current = current
        self.measure_forms: list[MeasureForm] = []

    def clean_base(self):
        base = self.cleaned_data["base"]
        if base != self.current.number:
            raise forms.ValidationError(
                f"The policy changed since you opened this form (now version {self.current.number}); "
                "review the cell as it is now and edit again."
            )
        return base

    def is_valid(self):
        valid = super().is_valid()
        rows = self.cleaned_data.get("rows") or 0
        self.measure_forms = [MeasureForm(self.data, prefix=str(i)) for i in range(rows)]
        return all([valid] + [m.is_valid() for m in self.measure_forms])

    def measures(self, original: list[dict]) -> list[dict]:
        found = (m.measure(original[i] if i < len(original) else None) for i, m in enumerate(self.measure_forms))
        return [m for m in found if m is not None]

    def problems(self) -> list[str]:
        """Every message of the form and its rows, for the list above the cell."""
        found = [m for ms in self.errors.values() for m in ms]
        for i, row in enumerate(self.measure_forms):
            found += [f"Measure {i + 1}, {name}: {m}" for name, ms in row.errors.items() for m in ms]
        return found


class IntervalsForm(forms.Form):
    """Review interval per tier (`days-<tier>`); which numbers are allowed is the service's rule."""

    base = forms.IntegerField(widget=forms.HiddenInput)
    comment = forms.CharField(required=False, max_length=300)

    def __init__(self, *args, current, **kwargs):
        super().__init__(*args, **kwargs)
        self.current = current
        for tier, label in sorted(defaults.TIERS.items()):
            self.fields[f"days-{tier}"] = forms.IntegerField(required=False, label=f"Tier {tier} — {label}")

    def clean_base(self):
        base = self.cleaned_data["base"]
        if base != self.current.number:
            raise forms.ValidationError(
                f"The policy changed since you opened this form (now version {self.current.number}); edit again."
            )
        return base

    def days(self) -> dict:
        return {str(t): self.cleaned_data.get(f"days-{t}") for t in sorted(defaults.TIERS)}


# --- reviews, proposals, exceptions, sign-offs -----------------------------------------------------


class ReviewForm(forms.Form):
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("confirm", "Confirm"), ("reject", "Reject")])
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Comment (required to reject)")


class GateExceptionForm(forms.Form):
    gate = forms.ChoiceField(label="Gate")
    justification = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Justification")
    expires_at = forms.DateTimeField(label="Expires at", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                     input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gate"].choices = sorted(
            ((k, g.label) for k, g in all_gates().items() if k != "approvals"), key=lambda c: c[1]
        ) + sorted((k, k) for k in governance.gate_exceptions.policy_gates() - set(all_gates()))


class SignOffForm(forms.Form):
    """Approve or reject a promotion; an approval that would promote is confirmed first
    (`confirmed=yes`, sent by the confirmation step)."""

    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    comment = forms.CharField(required=False, max_length=5000)
    confirmed = forms.BooleanField(required=False)

