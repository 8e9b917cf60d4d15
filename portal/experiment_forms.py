"""Forms of the experiment pages. They parse what a person typed; `abtests` (`planning`,
`lifecycle`, `decisions`) validates the design and decides, and its `ServiceError.fields` come
back onto the form (`DesignForm.add_service_error`) or next to the inputs.
"""

from django import forms

from abtests.models import Decision, Experiment
from core.errors import ServiceError
from registry.models import ModelVersion

from .forms import add_service_errors

E = Experiment


class DesignForm(forms.Form):
    """What a person types; `abtests.lifecycle` validates the design itself."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    kind = forms.ChoiceField(choices=E.Kind.choices, initial=E.Kind.AB)
    champion = forms.TypedChoiceField(coerce=int, label="Champion (control) version")
    challengers = forms.TypedMultipleChoiceField(coerce=int, label="Challenger version(s)", widget=forms.CheckboxSelectMultiple)
    metric_name = forms.CharField(max_length=100, initial="conversion", label="Goal metric")
    metric_type = forms.ChoiceField(choices=E.MetricType.choices, label="Goal metric type")
    direction = forms.ChoiceField(choices=E.Direction.choices)
    secondary_metrics = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line: name, binary or continuous (A/B only). P-values are Holm-adjusted.",
    )
    population = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Who is in the experiment.")
    splitting = forms.ChoiceField(choices=E.Splitting.choices, initial=E.Splitting.STICKY)
    allocation = forms.CharField(
        required=False, label="Traffic allocation", help_text="Weights per arm, control first (e.g. 1, 1). Empty: equal split."
    )
    test = forms.ChoiceField(choices=E.Test.choices)
    alpha = forms.FloatField(initial=0.05, help_text="Significance level.")
    power = forms.FloatField(initial=0.8)
    mde = forms.FloatField(label="Minimum detectable effect", help_text="Absolute, in the metric's unit (rate points for binary).")
    alternative = forms.ChoiceField(choices=E.Alternative.choices, initial=E.Alternative.TWO_SIDED)
    baseline = forms.FloatField(required=False, help_text="The control's rate (binary) or mean (continuous, optional there).")
    sd = forms.FloatField(required=False, label="Standard deviation", help_text="Continuous metrics.")
    daily_units = forms.FloatField(required=False, label="Expected units per day", help_text="Gives the planned duration.")
    sequential = forms.ChoiceField(choices=E.Sequential.choices, label="Sequential design", initial=E.Sequential.NONE)
    looks = forms.IntegerField(required=False, label="Planned looks", help_text="Group-sequential designs: 2 to 50.")

    DESIGN = ["name", "description", "kind", "champion", "challengers"]
    PROTOCOL = ["metric_name", "metric_type", "direction", "secondary_metrics", "population", "splitting", "allocation"]
    STATISTICS = ["test", "alpha", "power", "mde", "alternative", "baseline", "sd", "daily_units", "sequential", "looks"]

    #: Fields the service requires for some designs only: said next to the label, not "(optional)".
    REQUIRED_WHEN = {
        "baseline": "required for a binary goal metric",
        "sd": "required for a continuous goal metric",
        "looks": "required for a group-sequential design",
    }

    def __init__(self, *args, versions=(), **kwargs):
        super().__init__(*args, **kwargs)
        for name, when in self.REQUIRED_WHEN.items():
            self.fields[name].required_when = when
        choices = [(v.number, f"v{v.number} ({v.get_stage_display()})") for v in versions]
        self.fields["champion"].choices = choices
        self.fields["challengers"].choices = choices

    def sections(self):
        return [("Design", [self[n] for n in self.DESIGN]), ("Metrics, population and splitting", [self[n] for n in self.PROTOCOL]),
                ("Statistical protocol", [self[n] for n in self.STATISTICS])]

    def clean_secondary_metrics(self):
        metrics = []
        for number, line in enumerate(self.cleaned_data["secondary_metrics"].splitlines(), start=1):
            if not line.strip():
                continue
            name, _, kind = (part.strip() for part in line.replace(":", ",").partition(","))
            if not name or kind not in E.MetricType.values:
                raise forms.ValidationError(f"Line {number}: write “name, binary” or “name, continuous”.")
            metrics.append({"name": name, "type": kind})
        return metrics

    def clean_allocation(self):
        text = self.cleaned_data["allocation"].strip()
        if not text:
            return None
        try:
            return [float(w) for w in text.replace(";", ",").split(",")]
        except ValueError:
            raise forms.ValidationError("Numbers separated by commas, one per arm.") from None

    def add_service_error(self, exc: ServiceError) -> None:
        """Put the service's field messages next to the inputs; the rest above the form."""
        add_service_errors(self, exc)

    def service_arguments(self, model) -> dict:
        data = dict(self.cleaned_data)
        numbers = {v.number: v for v in ModelVersion.objects.filter(model=model)}
        data["champion"] = numbers[data["champion"]]
        data["challengers"] = [numbers[n] for n in data["challengers"] if n in numbers]
        return data


class PlanForm(forms.Form):
    """The design form's statistical inputs as typed, for the plan shown while typing. Every
    value stays text: `abtests.planning.plan_compute` (the one planner: API, portal, experiment
    design) reads and judges them, and its messages are the ones shown."""

    metric_type = forms.CharField(required=False, max_length=20)
    mde = forms.CharField(required=False, max_length=50)
    alpha = forms.CharField(required=False, max_length=50)
    power = forms.CharField(required=False, max_length=50)
    alternative = forms.CharField(required=False, max_length=20)
    baseline = forms.CharField(required=False, max_length=50)
    sd = forms.CharField(required=False, max_length=50)
    daily_units = forms.CharField(required=False, max_length=50)
    kind = forms.CharField(required=False, max_length=20)
    sequential = forms.CharField(required=False, max_length=20)
    looks = forms.CharField(required=False, max_length=10)
    allocation = forms.CharField(required=False, max_length=500)

    def plan_arguments(self) -> dict:
        raw = {key: value or None for key, value in self.cleaned_data.items()}
        allocation = raw.pop("allocation")
        return {
            **raw, "metric_type": raw["metric_type"] or "", "alpha": raw["alpha"] or 0.05, "power": raw["power"] or 0.8,
            "alternative": raw["alternative"] or "two-sided", "kind": raw["kind"] or E.Kind.AB,
            "sequential": raw["sequential"] or E.Sequential.NONE,
            "allocation": [w.strip() for w in allocation.replace(";", ",").split(",")] if allocation else None,
        }


class StopForm(forms.Form):
    reason = forms.CharField(required=False, max_length=2000)


class DecisionForm(forms.Form):
    """Keep the champion or adopt a challenger (`version`: its number, where there are several);
    whether the analysis allows it, and whether a rationale is needed, is `abtests.decisions`'s."""

    outcome = forms.ChoiceField(choices=Decision.Outcome.choices, error_messages={"required": "Choose an outcome."})
    version = forms.IntegerField(required=False, min_value=1)
    rationale = forms.CharField(required=False)

    def challenger(self, exp):
        number = self.cleaned_data.get("version")
        return next((a.version for a in exp.arms.all()[1:] if a.version.number == number), None) if number else None
