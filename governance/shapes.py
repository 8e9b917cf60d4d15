"""The shapes of governance's JSON documents: the policy matrix, a RACI matrix and who fills its
roles, as DRF serializers. The services validate with them (`errors_of`) and store what was sent;
the API input serializers document their JSON fields with them, so the schema shows the shape.

Errors name the part at fault by its dotted path, the way the portal shows them next to it: a
policy's `tiers.2.sign_off` (every problem of that list of measures), `review_interval_days`; a
RACI's `cells.deployments` (every problem of that row), `assignments.risk_audit`.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.settings import api_settings

from . import approvals, defaults

TIER_KEYS = ("1", "2", "3", "4")

# What an approvals measure may ask for (see governance.approvals).
APPROVAL_ROLES = set(approvals.SLOT_ROLES)


def flatten(errors, path: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as {dotted path: [messages]}; an object's own errors under its path."""
    if isinstance(errors, dict):
        flat: dict[str, list[str]] = {}
        for key, value in errors.items():
            where = path if key == api_settings.NON_FIELD_ERRORS_KEY else f"{path}.{key}" if path else str(key)
            for field, messages in flatten(value, where).items():
                flat.setdefault(field, []).extend(messages)
        return flat
    if isinstance(errors, list) and any(isinstance(e, (dict, list)) for e in errors):
        return flatten({str(i): e for i, e in enumerate(errors) if e}, path)
    return {path: [str(e) for e in errors]} if errors else {}


def errors_of(shape: type[serializers.Serializer], data, *, path: str) -> dict[str, list[str]]:
    """Field errors of `data` against `shape`, keyed from `path` (`{}` when it fits)."""
    serializer = shape(data=data)
    return {} if serializer.is_valid() else flatten(serializer.errors, path)


class _OneKey:
    """Reports every problem inside this part under the part's own key (`message` if set, else
    the messages found): a list of measures or a row is shown and fixed as one thing."""

    message = None

    def run_validation(self, data=empty):
        try:
            return super().run_validation(data)
        except serializers.ValidationError as exc:
            found = [m for messages in flatten(exc.detail).values() for m in messages]
            raise serializers.ValidationError([self.message] if self.message else list(dict.fromkeys(found))) from exc


class StrictCharField(serializers.CharField):
    """Text only: DRF's CharField would turn a number into its digits."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: not "30", 30.0 or true."""

    def to_internal_value(self, data):
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


# --- the policy ---------------------------------------------------------------------------------

TEXT_NEEDED = "Each measure needs a 'text' (an approvals measure's is written from its role and count)."
GATE_SHAPE = "'gate' is a gate key and 'params' an object."
STAGES_AMONG = f"'stages' must be among {', '.join(defaults.GOVERNED_STAGES)}."
TIERS_NEEDED = "An object mapping tiers '1'–'4' to considerations is required."


class MeasureSerializer(serializers.Serializer):
    """One measure of a consideration; with a `gate`, a check the workflow runs on the moves to
    its `stages`."""

    default_error_messages = {"invalid": TEXT_NEEDED}

    text = StrictCharField(required=False, allow_blank=True, error_messages={"invalid": TEXT_NEEDED, "null": TEXT_NEEDED},
                           help_text="What the measure asks; an approvals measure's is written from its role and count")
    gate = StrictCharField(required=False, allow_blank=True, error_messages={"invalid": GATE_SHAPE, "null": GATE_SHAPE},
                           help_text="Key of the gate that checks it (approvals, code_commit, model_card, …)")
    params = serializers.DictField(required=False, error_messages={"not_a_dict": GATE_SHAPE, "null": GATE_SHAPE},
                                   help_text="The gate's parameters; approvals: {role, count}")
    stages = serializers.ListField(
        child=serializers.ChoiceField(choices=defaults.GOVERNED_STAGES, error_messages={"invalid_choice": STAGES_AMONG}),
        required=False, error_messages={"not_a_list": STAGES_AMONG, "null": STAGES_AMONG},
        help_text="The moves the gate is checked on (default: every governed stage)",
    )

    def validate(self, attrs):
        if not attrs.get("text", "").strip() and attrs.get("gate") != "approvals":
            raise serializers.ValidationError(TEXT_NEEDED)
        if attrs.get("gate") == "approvals":
            params = attrs.get("params", {})
            role, count = params.get("role", "any"), params.get("count", 1)
            if role not in APPROVAL_ROLES or not isinstance(count, int) or isinstance(count, bool) or count < 1:
                roles = ", ".join(approvals.SLOT_LABELS[r] for r in approvals.SLOT_ROLES)
                raise serializers.ValidationError(
                    f"An approval comes from one of: {roles}; the count is a whole number of 1 or more."
                )
            if role == "accountable" and count != 1:
                raise serializers.ValidationError("A task has one Accountable person: ask for 1 approval from them.")
        return attrs


class MeasureListField(_OneKey, serializers.ListField):
    child = MeasureSerializer()
    default_error_messages = {"not_a_list": "Must be a list of measures."}


class TierRulesField(serializers.DictField):
    """{consideration: [measures]} for one tier; the considerations are `defaults.CONSIDERATIONS`."""

    child = MeasureListField()
    default_error_messages = {"not_a_dict": "Missing: an object mapping considerations to lists of measures."}

    def run_child_validation(self, data):
        unknown = f"Unknown consideration; one of {', '.join(defaults.CONSIDERATIONS)}."
        errors = {key: [unknown] for key in data if key not in defaults.CONSIDERATIONS}
        try:
            result = super().run_child_validation({k: v for k, v in data.items() if k in defaults.CONSIDERATIONS})
        except serializers.ValidationError as exc:
            errors.update(exc.detail)
            result = {}
        if errors:
            raise serializers.ValidationError(errors)
        return result


class TiersSerializer(serializers.Serializer):
    """The measures of each risk tier, '1' (light) to '4' (strict)."""

    def get_fields(self):
        missing = TierRulesField.default_error_messages["not_a_dict"]
        return {tier: TierRulesField(error_messages={"required": missing, "null": missing}) for tier in TIER_KEYS}


class TierDaysSerializer(_OneKey, serializers.Serializer):
    """Days (a positive integer) for each tier '1'–'4'."""

    message = "Days (positive integers) for each tier '1'–'4'."

    def get_fields(self):
        return {tier: StrictIntegerField(min_value=1) for tier in TIER_KEYS}


class SignoffDaysSerializer(TierDaysSerializer):
    message = "Days (positive integers) for each tier '1'–'4' within which sign-off is due."


class PolicyShape(serializers.Serializer):
    """A policy version's matrix. Keys other than these are kept as sent."""

    tiers = TiersSerializer(error_messages={"required": TIERS_NEEDED, "null": TIERS_NEEDED, "invalid": TIERS_NEEDED})
    review_interval_days = TierDaysSerializer(help_text="Days between periodic reviews of a production version, per tier")
    signoff_due_days = SignoffDaysSerializer(required=False, allow_null=True,
                                             help_text=f"Days within which sign-off is due, per tier (default {defaults.SIGNOFF_DUE_DAYS})")


def policy_errors(data) -> dict[str, list[str]]:
    if not isinstance(data, dict):  # reported where the matrix starts, as for a missing one
        return {"tiers": [TIERS_NEEDED]}
    return errors_of(PolicyShape, data, path="")


# --- RACI ---------------------------------------------------------------------------------------


# A pattern, not an enum: drf-spectacular would name one enum component per role.
@extend_schema_field({"type": "string", "pattern": "^(" + "|".join(defaults.RACI_VALUES) + ")$"})
class RaciLetterField(serializers.Field):
    """A cell's letter; the row checks it (RaciRowSerializer), with the row's other rules."""

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def to_internal_value(self, data):
        return data

    def to_representation(self, value):
        return value


class RaciRowSerializer(serializers.Serializer):
    """One task's row: a letter (R, A, C, I, A/R or empty) per RACI role, with exactly one
    Accountable and at least one Responsible."""

    default_error_messages = {"invalid": "Missing task row."}

    def get_fields(self):
        return {role: RaciLetterField(help_text=label) for role, label in defaults.RACI_ROLES.items()}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("invalid")
        if bad := [role for role in data if role not in defaults.RACI_ROLES]:
            raise serializers.ValidationError([f"Unknown role(s): {', '.join(bad)}."])
        if wrong := [f"{r}={v!r}" for r, v in data.items() if v not in defaults.RACI_VALUES]:
            raise serializers.ValidationError([f"Cells are one of R, A, C, I, A/R or empty; got {', '.join(wrong)}."])
        accountable = [r for r, v in data.items() if v in ("A", "A/R")]
        messages = []
        if len(accountable) != 1:
            messages.append(f"Exactly one Accountable (A or A/R) is required; found {len(accountable)}.")
        if not any(v in ("R", "A/R") for v in data.values()):
            messages.append("At least one Responsible (R or A/R) is required.")
        if messages:
            raise serializers.ValidationError(messages)
        return super().to_internal_value(data)


class _KnownKeys:
    """An object whose keys are a fixed set: a key outside it is an error under its own name,
    reported together with the errors of the known keys."""

    unknown = "Unknown key."

    def to_internal_value(self, data):
        errors, value = {}, None
        if isinstance(data, dict):
            errors = {key: [self.unknown] for key in data if key not in self.fields}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            errors.update(exc.detail)
        if errors:
            raise serializers.ValidationError(errors)
        return value


class RaciCellsShape(_KnownKeys, serializers.Serializer):
    """{task: {RACI role: letter}} for every task of `defaults.RACI_TASKS`."""

    default_error_messages = {"invalid": "An object mapping tasks to {{role: letter}}."}  # formatted
    unknown = "Unknown task."

    def get_fields(self):
        missing = RaciRowSerializer.default_error_messages["invalid"]
        return {task: RaciRowSerializer(help_text=label, error_messages={"required": missing, "null": missing})
                for task, label in defaults.RACI_TASKS.items()}


class UsernamesField(_OneKey, serializers.ListField):
    child = StrictCharField()
    message = "A list of usernames."


class RaciAssignmentsShape(_KnownKeys, serializers.Serializer):
    """{RACI role: [usernames]}: the people who fill each role of the matrix."""

    default_error_messages = {"invalid": "An object mapping RACI roles to lists of usernames."}
    unknown = "Unknown RACI role."

    def get_fields(self):
        return {role: UsernamesField(required=False, help_text=label) for role, label in defaults.RACI_ROLES.items()}
