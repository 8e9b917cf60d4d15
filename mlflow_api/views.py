"""MLflow's Model Registry REST protocol (`/api/2.0/mlflow/…`) and artifact proxy
(`/api/2.0/mlflow-artifacts/artifacts/…`) on Steward's inventory.

Views parse the request as MLflow's client sends it (GET: query parameters, repeated keys for
lists; POST/PATCH/DELETE: a JSON body), call one service or selector, and answer HTTP 200 with a
JSON object. Errors are `{"error_code", "message"}` with the statuses of MLflow's protocol; every
refusal is a 4xx, since the client retries 429 and 5xx.
"""

import base64
import binascii
import hashlib
import json
import os
import posixpath
import tempfile
from collections import defaultdict

from django.conf import settings
from django.core.files import File
from django.http import FileResponse, Http404
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.authentication import HashedTokenAuthentication, ReadOnlyToken, token_may_write
from core.errors import Conflict, Forbidden, NotFound, ServiceError
from core.limits import JSONParser
from core.models import ApiToken
from core.permissions import IsStewardUser
from core.roles import user_roles
from registry import services as registry
from registry.models import ModelVersion, RegisteredModel, Stage

from . import search, selectors, services
from .authentication import MlflowAuthentication
from .models import StagedArtifact

STEWARD_TO_MLFLOW_STAGE = {
    Stage.DEVELOPMENT: "None", Stage.QA: "None", Stage.PREPRODUCTION: "Staging",
    Stage.PRODUCTION: "Production", Stage.ARCHIVED: "Archived",
}
MLFLOW_STAGES = {"none": "None", "staging": "Staging", "production": "Production", "archived": "Archived"}
STATUS = {
    ModelVersion.Status.PENDING: "PENDING_REGISTRATION", ModelVersion.Status.CORRUPT: "FAILED_REGISTRATION",
    ModelVersion.Status.VERIFIED: "READY", ModelVersion.Status.REFERENCED: "READY",
}
STATUS_MESSAGE = {
    ModelVersion.Status.PENDING: "Steward is checking the artifact's SHA-256.",
    ModelVersion.Status.CORRUPT: "The stored artifact does not match its SHA-256.",
}


class MlflowError(Exception):
    def __init__(self, code: str, message: str, status: int):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _missing(param: str) -> MlflowError:
    return MlflowError("INVALID_PARAMETER_VALUE", f"Missing value for required parameter '{param}'.", 400)


def _error_for(exc) -> MlflowError:
    if isinstance(exc, MlflowError):
        return exc
    if isinstance(exc, ServiceError):
        detail = exc.message
        extra = [f"{k}: {'; '.join(str(m) for m in v)}" for k, v in exc.fields.items()
                 if not isinstance(exc, services.PromotionPending)]
        if extra:
            detail = f"{detail} ({' | '.join(extra)})"
        if isinstance(exc, NotFound):
            return MlflowError("RESOURCE_DOES_NOT_EXIST", detail, 404)
        if isinstance(exc, Forbidden):
            return MlflowError("PERMISSION_DENIED", detail, 403)
        if isinstance(exc, Conflict):
            if exc.code == "already_exists":
                return MlflowError("RESOURCE_ALREADY_EXISTS", detail, 400)
            return MlflowError("RESOURCE_CONFLICT", detail, 409)
        return MlflowError("INVALID_PARAMETER_VALUE", detail, 400)
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        return MlflowError("UNAUTHENTICATED", str(exc.detail), 401)
    if isinstance(exc, exceptions.PermissionDenied):
        return MlflowError("PERMISSION_DENIED", str(exc.detail), 403)
    if isinstance(exc, exceptions.ParseError):
        return MlflowError("MALFORMED_REQUEST", str(exc.detail), 400)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return MlflowError("ENDPOINT_NOT_FOUND", str(exc.detail), 404)
    if isinstance(exc, exceptions.APIException):
        return MlflowError("BAD_REQUEST", str(exc.detail), exc.status_code if exc.status_code < 500 else 400)
    if isinstance(exc, Http404):
        return MlflowError("RESOURCE_DOES_NOT_EXIST", str(exc) or "Not found.", 404)
    return None


class MlflowPermission(IsStewardUser):
    """Steward's funnel (a role; auditors only read), where a read may come as POST
    (`get-latest-versions` tries POST first)."""

    def has_permission(self, request, view):
        if getattr(view, "read_only", False):
            user = request.user
            return bool(user and user.is_authenticated and user_roles(user))
        if isinstance(request.auth, ApiToken) and not token_may_write(request.auth):
            raise ReadOnlyToken()  # a read token stays read-only through MLflow's protocol too
        return super().has_permission(request, view)


class _TokenAuthentication(HashedTokenAuthentication):
    check_scope = False  # MlflowPermission checks it, knowing which POSTs only read


class MlflowView(APIView):
    authentication_classes = [MlflowAuthentication, _TokenAuthentication]
    permission_classes = [MlflowPermission]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    schema = None  # not part of /api/v1's OpenAPI document
    read_only = False
    handler = None

    def handle_exception(self, exc):
        error = _error_for(exc)
        if error is None:
            return super().handle_exception(exc)
        response = Response({"error_code": error.code, "message": error.message}, status=error.status)
        if error.status == 401:
            response["WWW-Authenticate"] = 'Basic realm="steward"'
        return response

    def _params(self, request) -> "Params":
        if request.method == "GET":
            return Params(request.query_params, multi=True)
        data = request.data
        if not isinstance(data, dict):
            raise MlflowError("MALFORMED_REQUEST", "The body must be a JSON object.", 400)
        return Params(data, multi=False)

    def _run(self, request):
        return Response(type(self).handler(request, self._params(request)))

    get = post = patch = delete = _run

    @classmethod
    def route(cls, handler, methods, read_only=False):
        return type(handler.__name__, (cls,), {
            "handler": staticmethod(handler), "read_only": read_only,
            "http_method_names": [m.lower() for m in methods] + ["options"],
        }).as_view()


class Params:
    """Request fields, whichever way they came."""

    def __init__(self, data, *, multi: bool):
        self.data, self.multi = data, multi

    def get(self, key, default=None):
        value = self.data.get(key, default)
        return default if value is None else value

    def required(self, key) -> str:
        value = self.get(key)
        if value in (None, ""):
            raise _missing(key)
        return str(value)

    def list(self, key) -> list:
        if self.multi:
            return self.data.getlist(key)
        value = self.data.get(key) or []
        return value if isinstance(value, list) else [value]

    def int(self, key, default: int, maximum: int) -> int:
        value = self.get(key)
        if value in (None, ""):
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise MlflowError("INVALID_PARAMETER_VALUE", f"'{key}' must be an integer.", 400) from None
        if not 1 <= number <= maximum:
            raise MlflowError("INVALID_PARAMETER_VALUE", f"'{key}' must be between 1 and {maximum}, got {number}.", 400)
        return number


# --- reading: selectors and the wire shape --------------------------------------------------


def _download_uri(version, model_name: str) -> str:
    if version.artifact:
        return f"mlflow-artifacts:/steward/{model_name}/{version.number}"
    return version.artifact_uri


def _version_dict(v: selectors.VersionRow, *, tags=None, aliases=None) -> dict:
    out = {
        "name": v.model_name,
        "version": str(v.number),
        "creation_timestamp": selectors.ms(v.created_at),
        "last_updated_timestamp": selectors.ms(v.updated_at),
        "user_id": v.username,
        "current_stage": STEWARD_TO_MLFLOW_STAGE[v.stage],
        "description": v.description,
        "source": _download_uri(v, v.model_name),
        "run_id": v.training_run,
        "status": STATUS[v.status],
    }
    if v.status in STATUS_MESSAGE:
        out["status_message"] = STATUS_MESSAGE[v.status]
    if tags is not None:
        out["tags"] = tags
    if aliases is not None:
        out["aliases"] = aliases
    return out


def _versions_payload(versions: list[selectors.VersionRow]) -> list[dict]:
    """Versions as MLflow dicts with their tags and aliases, in a fixed number of queries."""
    ids = [v.id for v in versions]
    tags, aliases = selectors.version_tags(ids), selectors.version_aliases(ids)
    holders = selectors.protected_holders(versions, selectors.protected_alias_map())
    return [
        _version_dict(v, tags=tags[v.id], aliases=sorted(set(aliases[v.id]) | set(holders[v.id])))
        for v in versions
    ]


def _models_payload(models: list[selectors.ModelRow]) -> list[dict]:
    """Registered models with tags, aliases and the latest version per MLflow stage."""
    ids = [m.id for m in models]
    tags, aliases = selectors.model_tags(ids), selectors.model_aliases(ids)
    protected = defaultdict(list)
    for alias, stage in selectors.protected_alias_map().items():
        protected[stage].append(alias)
    latest: dict[int, dict[str, selectors.VersionRow]] = defaultdict(dict)
    newest_in_stage = {}
    for v in selectors.newest_per_stage(ids):
        latest[v.model_id].setdefault(STEWARD_TO_MLFLOW_STAGE[v.stage], v)
        newest_in_stage.setdefault((v.model_id, v.stage), v)
    for (model_id, stage), v in newest_in_stage.items():
        for alias in protected.get(stage, []):
            aliases[model_id].append({"alias": alias, "version": str(v.number)})
    return [
        {
            "name": m.name,
            "creation_timestamp": selectors.ms(m.created_at),
            "last_updated_timestamp": selectors.ms(m.updated_at),
            "user_id": m.username,
            "description": m.description,
            "latest_versions": [_version_dict(v) for v in sorted(latest[m.id].values(), key=lambda v: v.number)],
            "tags": tags[m.id],
            "aliases": sorted(aliases[m.id], key=lambda a: a["alias"]),
        }
        for m in models
    ]


def _not_found_model(name: str) -> MlflowError:
    return MlflowError("RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={name} not found", 404)


def _not_found_version(name: str, number) -> MlflowError:
    return MlflowError("RESOURCE_DOES_NOT_EXIST", f"Model Version (name={name}, version={number}) not found", 404)


def _number(number) -> int:
    try:
        return int(number)
    except (TypeError, ValueError):
        raise MlflowError("INVALID_PARAMETER_VALUE", f"Version must be an integer, got {number!r}.", 400) from None


def _model(name: str) -> RegisteredModel:
    """The model instance, for the services that change it."""
    model = RegisteredModel.objects.select_related("owner", "use_case").filter(name=name).first()
    if model is None:
        raise _not_found_model(name)
    return model


def _version(name: str, number) -> ModelVersion:
    number = _number(number)
    version = (
        ModelVersion.objects.select_related("model__use_case", "created_by")
        .filter(model__name=name, number=number).first()
    )
    if version is None:
        raise _not_found_version(name, number)
    return version


def _one_model(name: str) -> dict:
    row = selectors.model_get(name)
    if row is None:
        raise _not_found_model(name)
    return _models_payload([row])[0]


def _one_version(name: str, number) -> dict:
    number = _number(number)
    row = selectors.version_get(name, number)
    if row is None:
        raise _not_found_version(name, number)
    return _versions_payload([row])[0]


def _tag_pairs(raw) -> dict:
    if not raw:
        return {}
    if not isinstance(raw, list) or not all(isinstance(t, dict) and "key" in t for t in raw):
        raise MlflowError("INVALID_PARAMETER_VALUE", "'tags' is a list of {key, value}.", 400)
    return {str(t["key"]): "" if t.get("value") is None else str(t["value"]) for t in raw}


class PageToken:
    @staticmethod
    def decode(token: str | None) -> int:
        if not token:
            return 0
        try:
            offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        except (binascii.Error, ValueError, KeyError, TypeError):
            raise MlflowError("INVALID_PARAMETER_VALUE", "Invalid page token.", 400) from None
        if not isinstance(offset, int) or offset < 0:
            raise MlflowError("INVALID_PARAMETER_VALUE", "Invalid page token.", 400)
        return offset

    @staticmethod
    def encode(offset: int) -> str:
        return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _page(queryset, params: Params, *, default: int, maximum: int):
    size = params.int("max_results", default, maximum)
    offset = PageToken.decode(params.get("page_token"))
    rows = list(queryset[offset:offset + size + 1])
    token = PageToken.encode(offset + size) if len(rows) > size else None
    return rows[:size], token


# --- registered models ---------------------------------------------------------------------


def create_registered_model(request, p):
    name = p.required("name")
    services.model_create(actor=request.user, name=name, description=p.get("description", ""),
                          tags=_tag_pairs(p.get("tags")))
    return {"registered_model": _one_model(name)}


def get_registered_model(request, p):
    return {"registered_model": _one_model(p.required("name"))}


def update_registered_model(request, p):
    model = _model(p.required("name"))
    if p.get("description") is not None:
        registry.model_update(actor=request.user, model=model, description=p.get("description"))
    return {"registered_model": _one_model(model.name)}


def rename_registered_model(request, p):
    model = _model(p.required("name"))
    new_name = p.required("new_name")
    if new_name != model.name and RegisteredModel.objects.filter(name=new_name).exists():
        raise MlflowError("RESOURCE_ALREADY_EXISTS", f"Registered Model (name={new_name}) already exists.", 400)
    registry.model_update(actor=request.user, model=model, name=new_name)
    return {"registered_model": _one_model(new_name)}


def delete_registered_model(request, p):
    registry.model_delete(actor=request.user, model=_model(p.required("name")))
    return {}


MODEL_ORDER = {"name": "name", "timestamp": "updated_at", "last_updated_timestamp": "updated_at",
               "creation_timestamp": "created_at"}
VERSION_ORDER = {"name": "model__name", "version_number": "number", "creation_timestamp": "created_at",
                 "timestamp": "updated_at", "last_updated_timestamp": "updated_at"}


def search_registered_models(request, p):
    q = search.model_filter(p.get("filter") or "")
    ordering = search.order_by(p.list("order_by"), MODEL_ORDER, ["name"])
    queryset = RegisteredModel.objects.filter(q).order_by(*ordering).values_list(*selectors.MODEL_VALUES)
    models, token = _page(queryset, p, default=100, maximum=1000)
    body = {"registered_models": _models_payload([selectors.ModelRow(*m) for m in models])}
    if token:
        body["next_page_token"] = token
    return body


def get_latest_versions(request, p):
    model = _model(p.required("name"))
    wanted = p.list("stages")
    stages = []
    for stage in wanted:
        if stage.lower() not in MLFLOW_STAGES:
            raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid Model Version stage: {stage}.", 400)
        stages.append(MLFLOW_STAGES[stage.lower()])
    latest = {}
    for v in selectors.newest_per_stage([model.pk]):
        latest.setdefault(STEWARD_TO_MLFLOW_STAGE[v.stage], v)
    chosen = [latest[s] for s in (stages or latest) if s in latest]
    return {"model_versions": _versions_payload(sorted(chosen, key=lambda v: v.number))}


def set_registered_model_tag(request, p):
    model = _model(p.required("name"))
    services.model_tag_set(actor=request.user, model=model, key=p.required("key"), value=str(p.get("value", "")))
    return {}


def delete_registered_model_tag(request, p):
    services.model_tag_delete(actor=request.user, model=_model(p.required("name")), key=p.required("key"))
    return {}


def set_registered_model_alias(request, p):
    model = _model(p.required("name"))
    version = _version(model.name, p.required("version"))
    services.alias_set(actor=request.user, model=model, alias=p.required("alias"), version=version)
    return {}


def delete_registered_model_alias(request, p):
    services.alias_delete(actor=request.user, model=_model(p.required("name")), alias=p.required("alias"))
    return {}


def get_model_version_by_alias(request, p):
    model = _model(p.required("name"))
    version = services.alias_resolve(model=model, alias=p.required("alias"))
    return {"model_version": _one_version(model.name, version.number)}


# --- model versions ------------------------------------------------------------------------


def create_model_version(request, p):
    model = _model(p.required("name"))
    version = services.version_create(
        actor=request.user, model=model, source=p.required("source"), run_id=p.get("run_id") or "",
        run_link=p.get("run_link") or "", description=p.get("description") or "", tags=_tag_pairs(p.get("tags")),
    )
    return {"model_version": _one_version(model.name, version.number)}


def get_model_version(request, p):
    return {"model_version": _one_version(p.required("name"), p.required("version"))}


def update_model_version(request, p):
    version = _version(p.required("name"), p.required("version"))
    if p.get("description") is not None:
        registry.model_version_update(actor=request.user, version=version, description=p.get("description"))
    return {"model_version": _one_version(version.model.name, version.number)}


def delete_model_version(request, p):
    services.version_delete(actor=request.user, version=_version(p.required("name"), p.required("version")))
    return {}


def transition_model_version_stage(request, p):
    version = _version(p.required("name"), p.required("version"))
    services.stage_transition(actor=request.user, version=version, stage=p.required("stage"))
    return {"model_version": _one_version(version.model.name, version.number)}


def search_model_versions(request, p):
    clauses = search.parse(p.get("filter") or "")
    if len(clauses) == 1 and clauses[0][:3] == ("attr", "name", "=") and not p.list("order_by"):
        # The client's usual question (all versions of one model): no ORM query to build.
        size = p.int("max_results", 10000, 200000)
        offset = PageToken.decode(p.get("page_token"))
        rows = selectors.versions_named(clauses[0][3], offset, size + 1)
        body = {"model_versions": _versions_payload(rows[:size])}
        if len(rows) > size:
            body["next_page_token"] = PageToken.encode(offset + size)
        return body
    q = search.version_filter(p.get("filter") or "")
    ordering = search.order_by(p.list("order_by"), VERSION_ORDER, ["model__name", "-number"])
    queryset = ModelVersion.objects.filter(q).order_by(*ordering).values_list(*selectors.VERSION_VALUES)
    versions, token = _page(queryset, p, default=10000, maximum=200000)
    body = {"model_versions": _versions_payload([selectors.VersionRow(*v) for v in versions])}
    if token:
        body["next_page_token"] = token
    return body


def get_model_version_download_uri(request, p):
    version = _version(p.required("name"), p.required("version"))
    return {"artifact_uri": _download_uri(version, version.model.name)}


def set_model_version_tag(request, p):
    version = _version(p.required("name"), p.required("version"))
    services.version_tag_set(actor=request.user, version=version, key=p.required("key"), value=str(p.get("value", "")))
    return {}


def delete_model_version_tag(request, p):
    version = _version(p.required("name"), p.required("version"))
    services.version_tag_delete(actor=request.user, version=version, key=p.required("key"))
    return {}


# --- the artifact proxy --------------------------------------------------------------------


def _version_artifact(path: str):
    """`steward/<model>/<number>[/<file>]` → (version, file name or None)."""
    parts = path.split("/")
    if len(parts) not in (3, 4) or parts[0] != "steward" or not parts[2].isdigit():
        return None, None
    version = ModelVersion.objects.select_related("model").filter(model__name=parts[1], number=int(parts[2])).first()
    if version is None or not version.artifact:
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"No stored artifact at {path!r}.", 404)
    filename = version.artifact_filename or os.path.basename(version.artifact.name)
    if len(parts) == 4 and parts[3] != filename:
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"No stored artifact at {path!r}.", 404)
    return version, filename


class ArtifactView(MlflowView):
    """`PUT` uploads a file (write-once), `GET` downloads it. Paths under `steward/` are the
    stored artifacts of registered versions, read-only."""

    parser_classes = []

    def get(self, request, path=""):
        path = path.strip("/")
        version, _ = _version_artifact(path)
        if version is not None:
            response = FileResponse(version.artifact.open("rb"), as_attachment=True,
                                    filename=version.artifact_filename or "artifact")
            response["X-Checksum-SHA256"] = version.sha256
            return response
        staged = StagedArtifact.objects.filter(path=path).first()
        if staged is None:
            raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"No artifact at {path!r}.", 404)
        response = FileResponse(staged.file.open("rb"), as_attachment=True, filename=os.path.basename(path))
        response["X-Checksum-SHA256"] = staged.sha256
        return response

    def put(self, request, path=""):
        limit = settings.ARTIFACT_MAX_BYTES
        hasher, size = hashlib.sha256(), 0
        with tempfile.TemporaryFile() as tmp:
            stream = request._request
            while chunk := stream.read(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise MlflowError("INVALID_PARAMETER_VALUE", f"Artifact exceeds {limit} bytes.", 413)
                hasher.update(chunk)
                tmp.write(chunk)
            tmp.seek(0)
            services.artifact_stage(actor=request.user, path=path, fileobj=File(tmp, name=posixpath.basename(path)),
                                    sha256=hasher.hexdigest(), size=size)
        return Response({})


class ArtifactListView(MlflowView):
    read_only = True

    def get(self, request):
        path = (request.query_params.get("path") or "").strip("/")
        version, filename = _version_artifact(path) if path.startswith("steward/") else (None, None)
        if version is not None:
            return Response({"files": [{"path": filename, "is_dir": False, "file_size": version.size or 0}]})
        prefix = f"{path}/" if path else ""
        exact = StagedArtifact.objects.filter(path=path).first() if path else None
        if exact is not None:
            return Response({"files": [{"path": posixpath.basename(path), "is_dir": False, "file_size": exact.size}]})
        files, dirs = [], set()
        for staged_path, size in StagedArtifact.objects.filter(path__startswith=prefix).values_list("path", "size"):
            rest = staged_path[len(prefix):]
            head, sep, _ = rest.partition("/")
            if sep:
                dirs.add(head)
            else:
                files.append({"path": rest, "is_dir": False, "file_size": size})
        files += [{"path": d, "is_dir": True} for d in sorted(dirs)]
        return Response({"files": sorted(files, key=lambda f: f["path"])})


# Protocol routes: (path under /api/2.0/mlflow/, handler, methods, read-only?)
ROUTES = [
    ("registered-models/create", create_registered_model, ["POST"], False),
    ("registered-models/rename", rename_registered_model, ["POST"], False),
    ("registered-models/update", update_registered_model, ["PATCH"], False),
    ("registered-models/delete", delete_registered_model, ["DELETE"], False),
    ("registered-models/get", get_registered_model, ["GET"], True),
    ("registered-models/search", search_registered_models, ["GET"], True),
    ("registered-models/get-latest-versions", get_latest_versions, ["GET", "POST"], True),
    ("registered-models/set-tag", set_registered_model_tag, ["POST"], False),
    ("registered-models/delete-tag", delete_registered_model_tag, ["DELETE"], False),
    ("model-versions/create", create_model_version, ["POST"], False),
    ("model-versions/update", update_model_version, ["PATCH"], False),
    ("model-versions/transition-stage", transition_model_version_stage, ["POST"], False),
    ("model-versions/delete", delete_model_version, ["DELETE"], False),
    ("model-versions/get", get_model_version, ["GET"], True),
    ("model-versions/search", search_model_versions, ["GET"], True),
    ("model-versions/get-download-uri", get_model_version_download_uri, ["GET"], True),
    ("model-versions/set-tag", set_model_version_tag, ["POST"], False),
    ("model-versions/delete-tag", delete_model_version_tag, ["DELETE"], False),
]


def _alias(request, p):
    if request.method == "GET":
        return get_model_version_by_alias(request, p)
    if request.method == "POST":
        return set_registered_model_alias(request, p)
    return delete_registered_model_alias(request, p)


class AliasView(MlflowView):
    """One path, three verbs: GET reads (auditors too), POST sets, DELETE removes."""

    handler = staticmethod(_alias)
    http_method_names = ["get", "post", "delete", "options"]

    @property
    def read_only(self):
        return self.request.method == "GET"
