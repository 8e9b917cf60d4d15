"""The registry's actions, one import for callers (`from registry import services`).

Each service lives in the module of its concern; this module only names them:
- `use_cases.py`          use cases
- `datasets.py`           datasets and their lineage links
- `registered_models.py`  registered models, and moving one to another use case (a proposal)
- `versions.py`           model versions: registration, stage change, the artifact check
- `writing.py`            what they share: validation, duplicate → 409, tags
"""

from .datasets import dataset_create, dataset_delete, dataset_lineage_changed, dataset_update
from .registered_models import model_create, model_delete, model_move_apply, model_update
from .use_cases import use_case_create, use_case_delete, use_case_update
from .versions import (
    model_version_artifact_check_enqueue,
    model_version_artifact_verify,
    model_version_register,
    model_version_set_stage,
    model_version_update,
)

__all__ = [
    "dataset_create", "dataset_delete", "dataset_lineage_changed", "dataset_update",
    "model_create", "model_delete", "model_move_apply", "model_update",
    "use_case_create", "use_case_delete", "use_case_update",
    "model_version_artifact_check_enqueue", "model_version_artifact_verify", "model_version_register",
    "model_version_set_stage", "model_version_update",
]
