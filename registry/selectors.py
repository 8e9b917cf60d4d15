"""The API's hot reads (a model, a page of models, a version, a page of versions) as rows from
fixed-shape SQL, in the exact shape of `RegisteredModelSerializer` / `ModelVersionSerializer`.

Why: building these answers through the ORM and DRF's serializers cost several times what the
database spent answering them, and the model list grouped every model with its versions before
taking a page (docs/benchmarks.md). The serializers stay the API's definition (the OpenAPI schema
and every write answer come from them); `tests/registry/test_hot_reads.py` checks that these rows
are what the serializers give for the same objects. The SQL is the same on PostgreSQL and
SQLite but for one aggregate (a model's tag names: `STRING_AGG` / `GROUP_CONCAT`) and the
timestamps, which the database writes in DRF's format when the time zone is UTC (`_iso_sql`);
other values go through the converters the ORM would apply (`from_db`).
"""

from collections import defaultdict
from functools import cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models.expressions import Col
from django.urls import reverse
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from core import db
from core.text import render_markdown

from .models import Dataset, ModelVersion, RegisteredModel, Tag, UseCase

_DATETIME = serializers.DateTimeField()  # DRF's representation of a timestamp, as the serializers give it


def _tables() -> dict:
    return _tables_for(connection.vendor, settings.TIME_ZONE, api_settings.DATETIME_FORMAT)


def _iso_sql(column: str, vendor: str) -> str:
    """SQL giving a timestamp column as DRF writes it when the time zone is UTC: ISO 8601 with
    `Z`, microseconds only when there are any (`datetime.isoformat`). PostgreSQL formats it;
    SQLite already stores Django's UTC timestamps as that text with a space for the `T`."""
    if vendor == "postgresql":
        return f"REPLACE(TO_CHAR({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '') || 'Z'"
    return f"REPLACE({column}, ' ', 'T') || 'Z'"


@cache
def _tables_for(vendor: str, time_zone: str, datetime_format: str) -> dict:
    q = connection.ops.quote_name
    # Timestamps: formatted by the database in the common case (UTC, DRF's ISO 8601), which
    # spared parsing 200 of them into datetimes and formatting them again on a page of models;
    # otherwise the columns as they are, for `_when` (`ISO_IN_SQL` says which).
    in_sql = time_zone == "UTC" and datetime_format == ISO_8601
    when = {f"{alias}_{column}": _iso_sql(f"{alias}.{column}_at", vendor) if in_sql else f"{alias}.{column}_at"
            for alias, column in [("m", "created"), ("m", "updated"), ("v", "created"), ("v", "updated"),
                                  ("v", "status_checked")]}
    return {
        ISO_IN_SQL: in_sql,
        **when,
        "model": q(RegisteredModel._meta.db_table), "version": q(ModelVersion._meta.db_table),
        "user": q(get_user_model()._meta.db_table), "use_case": q(UseCase._meta.db_table),
        "tag": q(Tag._meta.db_table), "dataset": q(Dataset._meta.db_table),
        "model_tags": q(RegisteredModel.tags.through._meta.db_table),
        "version_tags": q(ModelVersion.tags.through._meta.db_table),
        "training": q(ModelVersion.training_datasets.through._meta.db_table),
        "validation": q(ModelVersion.validation_datasets.through._meta.db_table),
        # A model's tag names in its own row (slugs: never a comma in them).
        "join_names": "STRING_AGG(t.name, ',')" if vendor == "postgresql" else "GROUP_CONCAT(t.name, ',')",
    }


def _rows(sql: str, params) -> list[tuple]:
    return db.rows(sql.format(**_tables()), params)


@cache
def _converters(model, name: str) -> tuple:
    """The backend's and the field's converters for a column, as the ORM's compiler applies them
    (SQLite's text timestamps, JSON columns, …)."""
    field = model._meta.get_field(name)
    col = Col(model._meta.db_table, field)
    return tuple(connection.ops.get_db_converters(col) + col.get_db_converters(connection)), col


def from_db(model, name: str, value):
    converters, col = _converters(model, name)
    for convert in converters:
        value = convert(value, col, connection)
    return value


ISO_IN_SQL = "iso_in_sql"


def _when(model, name: str, value):
    if value is None:
        return None
    if _tables()[ISO_IN_SQL]:
        return value
    return _DATETIME.to_representation(from_db(model, name, value))


# --- registered models ------------------------------------------------------------------------

MODEL_SELECT = (
    "SELECT m.id, m.name, m.description, u.username, m.use_case_id, uc.name, "
    "(SELECT MAX(v.number) FROM {version} v WHERE v.model_id = m.id), "
    "(SELECT MAX(v.number) FROM {version} v WHERE v.model_id = m.id AND v.stage = 'production'), "
    "(SELECT COUNT(*) FROM {version} v WHERE v.model_id = m.id), "
    "{m_created}, {m_updated}, "
    "(SELECT {join_names} FROM {model_tags} mt JOIN {tag} t ON t.id = mt.tag_id WHERE mt.registeredmodel_id = m.id) "
    "FROM {model} m JOIN {user} u ON u.id = m.owner_id JOIN {use_case} uc ON uc.id = m.use_case_id "
)


def _model_dicts(rows) -> list[dict]:
    return [
        {
            "id": pk, "name": name, "description": description, "description_html": render_markdown(description),
            "owner": owner, "use_case": use_case, "use_case_name": use_case_name,
            "tags": sorted(tags.split(",")) if tags else [],
            "latest_version": latest, "production_version": production, "version_count": count,
            "created_at": _when(RegisteredModel, "created_at", created),
            "updated_at": _when(RegisteredModel, "updated_at", updated),
        }
        for pk, name, description, owner, use_case, use_case_name, latest, production, count, created, updated, tags
        in rows
    ]


def model_get(*, name: str) -> dict | None:
    """`GET /api/v1/models/{name}/`'s answer, or None."""
    rows = _rows(MODEL_SELECT + "WHERE m.name = %s", [name])
    return _model_dicts(rows)[0] if rows else None


class ModelPage:
    """Every model by name, for Django's paginator: counted and sliced in SQL."""

    def count(self) -> int:
        if not hasattr(self, "_count"):
            self._count = _rows("SELECT COUNT(*) FROM {model}", [])[0][0]
        return self._count

    def __getitem__(self, page: slice) -> list[dict]:
        if page.stop <= page.start:
            return []
        return _model_dicts(_rows(MODEL_SELECT + "ORDER BY m.name LIMIT %s OFFSET %s", [page.stop - page.start, page.start]))


def models_by_ids(ids: list[int]) -> list[dict]:
    """The models with these ids, in this order (a page chosen by the list's filters)."""
    if not ids:
        return []
    where, params = db.any_of("m.id", ids)
    by_id = {row["id"]: row for row in _model_dicts(_rows(MODEL_SELECT + f"WHERE {where}", params))}
    return [by_id[pk] for pk in ids if pk in by_id]


# --- model versions ---------------------------------------------------------------------------

VERSION_SELECT = (
    "SELECT v.id, m.name, v.number, v.description, v.artifact_uri, v.artifact_filename, v.artifact, v.sha256, "
    "v.size, v.framework, v.input_signature, v.code_repository, v.code_commit, v.training_run, v.params, "
    "v.metrics, v.stage, v.status, {v_status_checked}, u.username, {v_created}, {v_updated} "
    "FROM {version} v JOIN {model} m ON m.id = v.model_id JOIN {user} u ON u.id = v.created_by_id "
)
# Datasets in their model's order (name, version), as the serializer's related fields list them;
# tags sorted by the serializer.
LINKS_SQL = (
    "SELECT 1, l.modelversion_id, l.dataset_id, d.name, d.version FROM {training} l "
    "JOIN {dataset} d ON d.id = l.dataset_id WHERE {of_versions} "
    "UNION ALL SELECT 2, l.modelversion_id, l.dataset_id, d.name, d.version FROM {validation} l "
    "JOIN {dataset} d ON d.id = l.dataset_id WHERE {of_versions} "
    "UNION ALL SELECT 3, l.modelversion_id, l.tag_id, t.name, '' FROM {version_tags} l "
    "JOIN {tag} t ON t.id = l.tag_id WHERE {of_versions} "
    "ORDER BY 1, 4, 5"
)


def _version_dicts(rows) -> list[dict]:
    ids = [row[0] for row in rows]
    links = {1: defaultdict(list), 2: defaultdict(list), 3: defaultdict(list)}
    if ids:
        where, link_params = db.any_of("l.modelversion_id", ids)
        for kind, version_id, other_id, name, _ in _rows(LINKS_SQL.replace("{of_versions}", where), link_params * 3):
            links[kind][version_id].append(name if kind == 3 else other_id)
    out = []
    for (pk, model, number, description, artifact_uri, artifact_filename, artifact, sha256, size, framework,
         signature, repository, commit, run, params, metrics, stage, status, checked, created_by, created,
         updated) in rows:
        out.append({
            "id": pk, "model": model, "number": number, "description": description, "artifact_uri": artifact_uri,
            "artifact_filename": artifact_filename,
            "artifact_url": reverse("api:version-artifact", kwargs={"name": model, "number": number}) if artifact else None,
            "sha256": sha256, "size": size, "framework": framework,
            "input_signature": from_db(ModelVersion, "input_signature", signature),
            "training_datasets": links[1][pk], "validation_datasets": links[2][pk],
            "code_repository": repository, "code_commit": commit, "training_run": run,
            "params": from_db(ModelVersion, "params", params), "metrics": from_db(ModelVersion, "metrics", metrics),
            "stage": stage, "status": status,
            "status_checked_at": _when(ModelVersion, "status_checked_at", checked),
            "tags": sorted(links[3][pk]), "created_by": created_by,
            "created_at": _when(ModelVersion, "created_at", created),
            "updated_at": _when(ModelVersion, "updated_at", updated),
        })
    return out


def version_get(*, model_name: str, number: int) -> dict | None:
    """`GET /api/v1/models/{name}/versions/{number}/`'s answer, or None."""
    rows = _rows(VERSION_SELECT + "WHERE m.name = %s AND v.number = %s", [model_name, number])
    return _version_dicts(rows)[0] if rows else None


class VersionPage:
    """The versions of one model, newest first, for Django's paginator.

    Given the page the request asks for (`offset`, `limit`), the paginator's count and that page
    come from one statement (`COUNT(*) OVER ()` beside the rows); otherwise, or past the last
    version, the count is a query of its own."""

    def __init__(self, *, model_name: str, offset: int | None = None, limit: int | None = None):
        self.model_name, self.offset, self.limit = model_name, offset, limit
        self._rows = None

    def count(self) -> int:
        if not hasattr(self, "_count") and self.offset is not None and self.limit:
            rows = _rows(VERSION_SELECT.replace(" FROM ", ", COUNT(*) OVER () FROM ", 1)
                         + "WHERE m.name = %s ORDER BY v.number DESC LIMIT %s OFFSET %s",
                         [self.model_name, self.limit, self.offset])
            if rows:
                self._count, self._rows = rows[0][-1], [row[:-1] for row in rows]
        if not hasattr(self, "_count"):
            self._count = _rows("SELECT COUNT(*) FROM {version} v JOIN {model} m ON m.id = v.model_id WHERE m.name = %s",
                                [self.model_name])[0][0]
        return self._count

    def __getitem__(self, page: slice) -> list[dict]:
        if page.stop <= page.start:
            return []
        if self._rows is not None and page.start == self.offset and page.stop - page.start <= len(self._rows):
            return _version_dicts(self._rows[:page.stop - page.start])
        return _version_dicts(_rows(VERSION_SELECT + "WHERE m.name = %s ORDER BY v.number DESC LIMIT %s OFFSET %s",
                                    [self.model_name, page.stop - page.start, page.start]))


def versions_by_ids(ids: list[int]) -> list[dict]:
    """The versions with these ids, in this order."""
    if not ids:
        return []
    where, params = db.any_of("v.id", ids)
    by_id = {row["id"]: row for row in _version_dicts(_rows(VERSION_SELECT + f"WHERE {where}", params))}
    return [by_id[pk] for pk in ids if pk in by_id]
