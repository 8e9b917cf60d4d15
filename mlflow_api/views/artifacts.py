"""The artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/…`): uploads kept write-once until a
version names them, downloads of registered versions' stored artifacts."""

import hashlib
import os
import posixpath
import tempfile

from django.conf import settings
from django.core.files import File
from django.http import FileResponse
from rest_framework.response import Response

from registry.models import ModelVersion

from .. import services
from ..models import StagedArtifact
from .base import MlflowError, MlflowView


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
    http_method_names = ["get", "put", "options"]

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
    http_method_names = ["get", "options"]

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

