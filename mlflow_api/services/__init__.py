"""What the MLflow protocol changes, as services: each checks permission, changes state in one
transaction and writes its audit event. Inventory and governance changes go through registry's
and governance's own services; this package only adds what MLflow has and Steward lacks (tags
with values, aliases, staged uploads) and the mapping of aliases/stages onto promotions.

One module per concern: `registered_models` (create, model tags), `versions` (registration from
an MLflow `source`, version tags, deletion), `artifacts` (the artifact proxy's staged uploads),
`aliases` (free aliases, protected aliases and stage transitions: the governed moves).
"""

from .aliases import (
    ALIAS_RE,
    BUILTIN_PROTECTED,
    MLFLOW_STAGE_TARGET,
    PromotionPending,
    alias_delete,
    alias_resolve,
    alias_set,
    move_towards,
    protected_alias_delete,
    protected_alias_map,
    protected_alias_set,
    stage_transition,
)
from .artifacts import artifact_stage, clean_artifact_path
from .registered_models import (
    TAG_USE_CASE,
    model_create,
    model_tag_delete,
    model_tag_set,
    use_case_for,
)
from .versions import version_create, version_delete, version_tag_delete, version_tag_set

__all__ = [
    "ALIAS_RE", "BUILTIN_PROTECTED", "MLFLOW_STAGE_TARGET", "TAG_USE_CASE", "PromotionPending", "alias_delete",
    "alias_resolve", "alias_set", "artifact_stage", "clean_artifact_path", "model_create", "model_tag_delete",
    "model_tag_set", "move_towards", "protected_alias_delete", "protected_alias_map", "protected_alias_set",
    "stage_transition", "use_case_for", "version_create", "version_delete", "version_tag_delete", "version_tag_set",
]
