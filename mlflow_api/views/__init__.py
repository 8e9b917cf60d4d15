"""MLflow's Model Registry REST protocol (`/api/2.0/mlflow/…`) and artifact proxy
(`/api/2.0/mlflow-artifacts/artifacts/…`) on Steward's inventory.

Views parse the request as MLflow's client sends it (GET: query parameters, repeated keys for
lists; POST/PATCH/DELETE: a JSON body), call one service or selector, and answer HTTP 200 with a
JSON object. Errors are `{"error_code", "message"}` with the statuses of MLflow's protocol; every
refusal is a 4xx, since the client retries 429 and 5xx.

One module per concern: `base` (errors, permission, request parsing), `wire` (the JSON shape of
models and versions), `registered_models`, `versions`, `artifacts`; the routes are listed here.
"""

from . import registered_models as models
from . import versions
from .artifacts import ArtifactListView, ArtifactView
from .base import MlflowView

__all__ = ["ROUTES", "AliasView", "ArtifactListView", "ArtifactView", "MlflowView"]

# Protocol routes: (path under /api/2.0/mlflow/, handler, methods, read-only?)
ROUTES = [
    ("registered-models/create", models.create_registered_model, ["POST"], False),
    ("registered-models/rename", models.rename_registered_model, ["POST"], False),
    ("registered-models/update", models.update_registered_model, ["PATCH"], False),
    ("registered-models/delete", models.delete_registered_model, ["DELETE"], False),
    ("registered-models/get", models.get_registered_model, ["GET"], True),
    ("registered-models/search", models.search_registered_models, ["GET"], True),
    ("registered-models/get-latest-versions", models.get_latest_versions, ["GET", "POST"], True),
    ("registered-models/set-tag", models.set_registered_model_tag, ["POST"], False),
    ("registered-models/delete-tag", models.delete_registered_model_tag, ["DELETE"], False),
    ("model-versions/create", versions.create_model_version, ["POST"], False),
    ("model-versions/update", versions.update_model_version, ["PATCH"], False),
    ("model-versions/transition-stage", versions.transition_model_version_stage, ["POST"], False),
    ("model-versions/delete", versions.delete_model_version, ["DELETE"], False),
    ("model-versions/get", versions.get_model_version, ["GET"], True),
    ("model-versions/search", versions.search_model_versions, ["GET"], True),
    ("model-versions/get-download-uri", versions.get_model_version_download_uri, ["GET"], True),
    ("model-versions/set-tag", versions.set_model_version_tag, ["POST"], False),
    ("model-versions/delete-tag", versions.delete_model_version_tag, ["DELETE"], False),
]


def _alias(request, p):
    if request.method == "GET":
        return models.get_model_version_by_alias(request, p)
    if request.method == "POST":
        return models.set_registered_model_alias(request, p)
    return models.delete_registered_model_alias(request, p)


class AliasView(MlflowView):
    """One path, three verbs: GET reads (auditors too), POST sets, DELETE removes."""

    handler = staticmethod(_alias)
    http_method_names = ["get", "post", "delete", "options"]

    @property
    def read_only(self):
        return self.request.method == "GET"
