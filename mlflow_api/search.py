"""MLflow's search filter strings → Django Q objects.

The grammar MLflow's own server accepts for the model registry: comparisons joined by AND, a key
being an attribute (`name`, `run_id`, …, optionally `attribute.`-prefixed) or a tag
(``tag.key`` / ``tag.`key with dots```), operators `=`, `!=`, `LIKE`, `ILIKE` (and `IN` /
`NOT IN` for `run_id`), values quoted strings (numbers for `version_number`). sqlparse (MLflow's
own choice, and Django's dependency) tokenises; this module only walks the flat token stream.
"""

import re

import sqlparse
from django.db.models import Exists, OuterRef, Q
from sqlparse import tokens as T

from core.errors import InvalidInput

from .models import ModelTag, VersionTag

OPS = {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}


def _bad(message):
    return InvalidInput(message, fields={"filter": [message]})


def _unquote(token) -> str:
    value = token.value
    if value[:1] in "'\"" and value[-1:] == value[:1] and len(value) >= 2:
        return value[1:-1].replace(value[0] * 2, value[0])
    raise _bad(f"Expected a quoted string, got {value!r}.")


def _strip_backticks(name: str) -> str:
    return name[1:-1] if len(name) >= 2 and name[0] == name[-1] == "`" else name


def parse(filter_string: str) -> list[tuple[str, str, str, object]]:
    """`[(kind, key, op, value)]` with kind 'attr' or 'tag'; value a str, int or list of str."""
    if not (filter_string or "").strip():
        return []
    statements = sqlparse.parse(filter_string)
    if len(statements) != 1:
        raise _bad("One filter expression, please.")
    tokens = [t for t in statements[0].flatten() if not t.is_whitespace]
    clauses, i = [], 0
    while i < len(tokens):
        # key: name | prefix . name
        tok = tokens[i]
        if not (tok.ttype in T.Name or tok.ttype in T.Keyword):
            raise _bad(f"Expected a key at {tok.value!r}.")
        key, kind = _strip_backticks(tok.value), "attr"
        i += 1
        if i < len(tokens) and tokens[i].value == ".":
            prefix = key.lower()
            if i + 1 >= len(tokens):
                raise _bad("Filter ends after a '.'.")
            key = _strip_backticks(tokens[i + 1].value)
            if prefix in ("tag", "tags"):
                kind = "tag"
            elif prefix not in ("attribute", "attributes"):
                raise _bad(f"Unknown key prefix {prefix!r}; use tag.<key> or attribute.<name>.")
            i += 2
        if i >= len(tokens):
            raise _bad(f"Filter ends after the key {key!r}.")
        op = tokens[i].value.upper()
        i += 1
        if op == "NOT" and i < len(tokens) and tokens[i].value.upper() == "IN":
            op, i = "NOT IN", i + 1
        if op not in OPS:
            raise _bad(f"Unsupported operator {op!r}; use =, !=, LIKE, ILIKE or IN.")
        if i >= len(tokens):
            raise _bad(f"Filter ends after {key} {op}.")
        if op in ("IN", "NOT IN"):
            if tokens[i].value != "(":
                raise _bad("IN takes a parenthesised list of quoted strings.")
            values, i = [], i + 1
            while i < len(tokens) and tokens[i].value != ")":
                if tokens[i].value != ",":
                    values.append(_unquote(tokens[i]))
                i += 1
            if i >= len(tokens):
                raise _bad("Unclosed '(' in an IN list.")
            value, i = values, i + 1
        elif tokens[i].ttype in T.Number:
            value, i = int(tokens[i].value), i + 1
        else:
            value, i = _unquote(tokens[i]), i + 1
        clauses.append((kind, key, op, value))
        if i < len(tokens):
            if tokens[i].value.upper() != "AND":
                raise _bad(f"Clauses are joined by AND, got {tokens[i].value!r}.")
            i += 1
            if i >= len(tokens):
                raise _bad("Filter ends after AND.")
    return clauses


def like_regex(pattern: str) -> str:
    """SQL LIKE pattern → an anchored regular expression (same on PostgreSQL and SQLite)."""
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return "^" + "".join(out) + "$"


def _compare(field: str, op: str, value) -> Q:
    if op == "=":
        return Q(**{field: value})
    if op == "!=":
        return ~Q(**{field: value})
    if op == "IN":
        return Q(**{f"{field}__in": value})
    if op == "NOT IN":
        return ~Q(**{f"{field}__in": value})
    if not isinstance(value, str):
        raise _bad(f"{op} compares strings.")
    # A plain prefix is the common case (`name LIKE 'credit%'`) and can use an index.
    if op == "LIKE" and re.fullmatch(r"[^%_]*%", value):
        return Q(**{f"{field}__startswith": value[:-1]})
    return Q(**{f"{field}__{'regex' if op == 'LIKE' else 'iregex'}": like_regex(value)})


def _tag_q(tag_model, owner: str, key: str, op: str, value) -> Q:
    if op in ("IN", "NOT IN"):
        raise _bad("Tags compare with =, !=, LIKE or ILIKE.")
    tags = tag_model.objects.filter(**{owner: OuterRef("pk")}, key=key)
    if op == "!=":
        # As MLflow's client means it (``tag.`mlflow.prompt.is_prompt` != 'true'``): objects
        # without the tag match too.
        return ~Q(Exists(tags.filter(value=value)))
    return Q(Exists(tags.filter(_compare("value", op, value))))


MODEL_ATTRS = {"name": "name"}
VERSION_ATTRS = {
    "name": "model__name", "version_number": "number", "run_id": "training_run",
    "source_path": "artifact_uri", "source": "artifact_uri",
}


def model_filter(filter_string: str) -> Q:
    q = Q()
    for kind, key, op, value in parse(filter_string):
        if kind == "tag":
            q &= _tag_q(ModelTag, "model", key, op, value)
        elif key in MODEL_ATTRS:
            q &= _compare(MODEL_ATTRS[key], op, value)
        else:
            raise _bad(f"Invalid attribute key {key!r}; registered models filter on name and tag.<key>.")
    return q


def version_filter(filter_string: str) -> Q:
    q = Q()
    for kind, key, op, value in parse(filter_string):
        if kind == "tag":
            q &= _tag_q(VersionTag, "version", key, op, value)
        elif key in VERSION_ATTRS:
            if key == "version_number":
                try:
                    value = [int(v) for v in value] if isinstance(value, list) else int(value)
                except ValueError:
                    raise _bad("version_number is a number.") from None
            q &= _compare(VERSION_ATTRS[key], op, value)
        else:
            raise _bad(f"Invalid attribute key {key!r}; one of {', '.join(VERSION_ATTRS)} or tag.<key>.")
    return q


def order_by(items, allowed: dict[str, str], tiebreak: list[str]) -> list[str]:
    """MLflow's `order_by` (["name DESC", "last_updated_timestamp"]) → Django ordering."""
    result = []
    for item in items or []:
        parts = item.strip().split()
        if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1].upper() not in ("ASC", "DESC")):
            raise InvalidInput("Invalid order_by.", fields={"order_by": [f"{item!r}: '<column> [ASC|DESC]'."]})
        column = _strip_backticks(parts[0]).removeprefix("attribute.").removeprefix("attributes.")
        if column not in allowed:
            raise InvalidInput("Invalid order_by.", fields={"order_by": [f"{column!r}: one of {', '.join(allowed)}."]})
        desc = len(parts) == 2 and parts[1].upper() == "DESC"
        result.append(("-" if desc else "") + allowed[column])
    used = {r.lstrip("-") for r in result}
    return result + [t for t in tiebreak if t.lstrip("-") not in used]
