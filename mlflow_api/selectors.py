"""The MLflow protocol's reads, as rows rather than model instances.

Every call of the protocol reads a model or versions plus their tags, aliases and protected-alias
holders. Building those queries with the ORM cost more CPU than PostgreSQL spent answering them
(docs/benchmarks.md), so the fixed-shape ones are written here by hand, in SQL both PostgreSQL
and SQLite accept; searches with user filters build their main query with the ORM and fetch the
rest here.
"""

from collections import defaultdict, namedtuple
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import QuerySet

from core import db
from registry.models import ModelVersion, RegisteredModel

from .models import Alias, ModelTag, ProtectedAlias, VersionTag

VersionRow = namedtuple("VersionRow", "id model_id model_name number description artifact artifact_uri "
                                      "stage status training_run created_ms updated_ms username")
ModelRow = namedtuple("ModelRow", "id name description created_ms updated_ms username")

# Timestamps come as epoch milliseconds, computed by the database (`core.db.epoch_ms_sql`).
VERSION_VALUES = ["id", "model_id", "model__name", "number", "description", "artifact", "artifact_uri", "stage",
                  "status", "training_run", "created_ms", "updated_ms", "created_by__username"]
MODEL_VALUES = ["id", "name", "description", "created_ms", "updated_ms", "owner__username"]


def _with_ms(queryset):
    return queryset.annotate(created_ms=db.EpochMs("created_at"), updated_ms=db.EpochMs("updated_at"))


def model_rows(queryset) -> QuerySet:
    """A (filtered, ordered) queryset of registered models as `ModelRow` values."""
    return _with_ms(queryset).values_list(*MODEL_VALUES)


def version_rows(queryset) -> QuerySet:
    """A (filtered, ordered) queryset of model versions as `VersionRow` values."""
    return _with_ms(queryset).values_list(*VERSION_VALUES)


@cache
def _tables() -> dict:
    q = connection.ops.quote_name
    return {
        "model": q(RegisteredModel._meta.db_table), "version": q(ModelVersion._meta.db_table),
        "user": q(get_user_model()._meta.db_table), "mtag": q(ModelTag._meta.db_table),
        "vtag": q(VersionTag._meta.db_table), "alias": q(Alias._meta.db_table),
        "protected": q(ProtectedAlias._meta.db_table),
        **{f"{alias}_{column}": db.epoch_ms_sql(f"{alias}.{column}_at", connection.vendor)
           for alias in "vmn" for column in ("created", "updated")},
    }


def _rows(sql: str, params) -> list[tuple]:
    return db.rows(sql.format(**_tables()), params)


VERSION_SELECT = (
    "SELECT v.id, v.model_id, m.name, v.number, v.description, v.artifact, v.artifact_uri, v.stage, v.status, "
    "v.training_run, {v_created}, {v_updated}, u.username FROM {version} v "
    "JOIN {model} m ON m.id = v.model_id JOIN {user} u ON u.id = v.created_by_id "
)


def version_get(name: str, number: int) -> VersionRow | None:
    rows = _rows(VERSION_SELECT + "WHERE m.name = %s AND v.number = %s", [name, number])
    return VersionRow(*rows[0]) if rows else None


def _ranked(where: str) -> str:
    """The versions `where` selects, as `n`, each ranked within its model and stage, newest
    first (`n.rn = 1`: the newest)."""
    return ("(SELECT v.id, v.model_id, v.number, v.description, v.artifact, v.artifact_uri, v.stage, v.status, "
            "v.training_run, v.created_at, v.updated_at, v.created_by_id, "
            "ROW_NUMBER() OVER (PARTITION BY v.model_id, v.stage ORDER BY v.number DESC) AS rn "
            f"FROM {{version}} v {where}) n")


def newest_per_stage(model_ids) -> list[VersionRow]:
    """For each model, its newest version in each Steward stage (what `latest_versions` and the
    protected aliases are made of), ordered by model and number descending; a window function,
    so a model with many versions costs no more rows than stages."""
    if not model_ids:
        return []
    where, params = db.any_of("v.model_id", model_ids)
    # The window runs over the versions alone; the few rows it keeps are joined to their model
    # and creator afterwards (joining first made PostgreSQL hash every model: 7 ms against 1).
    sql = (
        "SELECT n.id, n.model_id, m.name, n.number, n.description, n.artifact, n.artifact_uri, n.stage, n.status, "
        f"n.training_run, {{n_created}}, {{n_updated}}, u.username FROM {_ranked(f'WHERE {where}')} "
        "JOIN {model} m ON m.id = n.model_id JOIN {user} u ON u.id = n.created_by_id "
        "WHERE n.rn = 1 ORDER BY n.model_id, n.number DESC"
    )
    return [VersionRow(*r) for r in _rows(sql, params)]


def versions_named(name: str, offset: int, limit: int) -> list[VersionRow]:
    """`search_model_versions("name = '…'")`, the common case, in the default order."""
    return [VersionRow(*r) for r in _rows(
        VERSION_SELECT + "WHERE m.name = %s ORDER BY v.number DESC LIMIT %s OFFSET %s", [name, limit, offset])]


def model_with_newest(name: str) -> tuple[ModelRow | None, list[VersionRow]]:
    """A model and its newest version in each stage (`newest_per_stage` for one model), in one
    statement: get model's two reads in one round trip."""
    rows = _rows(
        "SELECT m.id, m.name, m.description, {m_created}, {m_updated}, o.username, n.id, n.number, n.description, "
        "n.artifact, n.artifact_uri, n.stage, n.status, n.training_run, {n_created}, {n_updated}, u.username "
        "FROM {model} m JOIN {user} o ON o.id = m.owner_id "
        f"LEFT JOIN {_ranked('JOIN {model} named ON named.id = v.model_id WHERE named.name = %s')} "
        "ON n.model_id = m.id AND n.rn = 1 LEFT JOIN {user} u ON u.id = n.created_by_id "
        "WHERE m.name = %s ORDER BY n.number DESC",
        [name, name],
    )
    if not rows:
        return None, []
    model = ModelRow(*rows[0][:6])
    newest = [VersionRow(r[6], model.id, model.name, *r[7:]) for r in rows if r[6] is not None]
    return model, newest


def _extras(sql: str, params: list) -> tuple[dict, dict, dict]:
    """Tags (kind 1), aliases (kind 2) and the protected-alias table (kind 3) in one statement:
    one round trip where there were three."""
    tags, aliases, protected = defaultdict(list), defaultdict(list), {}
    sql += " UNION ALL SELECT 3, NULL, alias, stage FROM {protected} ORDER BY 1, 3"
    for kind, owner_id, key, value in _rows(sql, params):
        if kind == 1:
            tags[owner_id].append({"key": key, "value": value})
        elif kind == 2:
            aliases[owner_id].append((key, value))
        else:
            protected[key] = value
    from .services import BUILTIN_PROTECTED

    return tags, aliases, {**protected, **BUILTIN_PROTECTED}


def model_extras(model_ids) -> tuple[dict, dict, dict]:
    """({model_id: [{key, value}] by key}, {model_id: [(alias, version number as text)]},
    {protected alias: stage})."""
    tagged, params = db.any_of("model_id", list(model_ids) or [0])
    aliased, _ = db.any_of("a.model_id", list(model_ids) or [0])
    return _extras(
        f"SELECT 1, model_id, key, value FROM {{mtag}} WHERE {tagged} "
        "UNION ALL SELECT 2, a.model_id, a.alias, CAST(v.number AS TEXT) FROM {alias} a "
        f"JOIN {{version}} v ON v.id = a.version_id WHERE {aliased}",
        params * 2,
    )


def version_extras(version_ids) -> tuple[dict, dict, dict]:
    """({version_id: [{key, value}] by key}, {version_id: [(alias, '')]}, {protected alias: stage})."""
    where, params = db.any_of("version_id", list(version_ids) or [0])
    return _extras(
        f"SELECT 1, version_id, key, value FROM {{vtag}} WHERE {where} "
        f"UNION ALL SELECT 2, version_id, alias, '' FROM {{alias}} WHERE {where}",
        params * 2,
    )










def protected_holders(versions: list[VersionRow], protected_map: dict[str, str]) -> dict[int, list[str]]:
    """{version_id: [protected aliases]}: each protected alias resolves to the newest version of
    the model in the stage it names. Only models with one of `versions` in a protected stage are
    looked at (none, usually: then no query)."""
    by_stage = defaultdict(list)
    for alias, stage in protected_map.items():
        by_stage[stage].append(alias)
    holders = defaultdict(list)
    model_ids = sorted({v.model_id for v in versions if v.stage in by_stage})
    if not model_ids:
        return holders
    stages = sorted(by_stage)
    seen = set()
    of_models, model_params = db.any_of("model_id", model_ids)
    in_stages, stage_params = db.any_of("stage", stages)
    for model_id, stage, version_id in _rows(
        f"SELECT model_id, stage, id FROM {{version}} WHERE {of_models} AND {in_stages} "
        "ORDER BY model_id, stage, number DESC",
        [*model_params, *stage_params],
    ):
        if (model_id, stage) not in seen:
            seen.add((model_id, stage))
            holders[version_id].extend(by_stage[stage])
    return holders
