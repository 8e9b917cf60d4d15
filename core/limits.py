"""Bounds on what the API accepts, checked once, centrally, before any serializer runs.

Every JSON, form and multipart body parsed by DRF goes through the parsers below (they are the
`DEFAULT_PARSER_CLASSES`; a view with its own parser wraps it with `bounded`). They refuse:

- a body larger than `DATA_UPLOAD_MAX_MEMORY_SIZE` → 413 (before it is read whole);
- any string (a value or an object key) longer than `STEWARD_API_MAX_STRING_CHARS`,
- an object with more than `STEWARD_API_MAX_JSON_KEYS` keys, an array longer than
  `STEWARD_API_MAX_JSON_ITEMS`, nesting deeper than `STEWARD_API_MAX_JSON_DEPTH`, or more than
  `STEWARD_API_MAX_JSON_NODES` values in all → 400 naming the top-level field, with the path.

`check_json(value, field=...)` applies the same bounds to JSON that arrives some other way (a
JSON-encoded string in a multipart form field). Artifact uploads have their own limit
(`ARTIFACT_MAX_BYTES`, registry/uploads.py); experiment event uploads theirs (abtests).
"""

import io

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import parsers
from rest_framework.exceptions import ValidationError

NON_FIELD = "non_field_errors"


def _limits():
    return (
        settings.STEWARD_API_MAX_STRING_CHARS,
        settings.STEWARD_API_MAX_JSON_KEYS,
        settings.STEWARD_API_MAX_JSON_ITEMS,
        settings.STEWARD_API_MAX_JSON_DEPTH,
        settings.STEWARD_API_MAX_JSON_NODES,
    )


def _problem(value, path=""):
    """The first bound `value` breaks, as (path, message), or None. Iterative: no recursion limit."""
    max_chars, max_keys, max_items, max_depth, max_nodes = _limits()
    stack = [(value, path, 0)]
    nodes = 0
    while stack:
        v, p, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            return path, f"At most {max_nodes} values in all."
        if isinstance(v, str):
            if len(v) > max_chars:
                return p, f"At most {max_chars} characters (got {len(v)})."
        elif isinstance(v, dict):
            if depth >= max_depth:
                return p, f"Nested at most {max_depth} levels deep."
            if len(v) > max_keys:
                return p, f"At most {max_keys} keys in an object (got {len(v)})."
            for k, item in v.items():
                if isinstance(k, str) and len(k) > max_chars:
                    return p, f"Keys of at most {max_chars} characters."
                stack.append((item, f"{p}.{k}" if p else str(k), depth + 1))
        elif isinstance(v, list):
            if depth >= max_depth:
                return p, f"Nested at most {max_depth} levels deep."
            if len(v) > max_items:
                return p, f"At most {max_items} items in a list (got {len(v)})."
            stack.extend((item, f"{p}[{i}]", depth + 1) for i, item in enumerate(v))
    return None


def _raise(path, message, field=None):
    top = field or (path.split(".")[0].split("[")[0] if path else "") or NON_FIELD
    where = f"{path}: " if path and path != top else ""
    raise ValidationError({top: [f"{where}{message}"]})


def json_problem(value) -> str | None:
    """What is wrong with `value` ("path: message"), or None; for serializer fields."""
    problem = _problem(value)
    if problem is None:
        return None
    path, message = problem
    return f"{path}: {message}" if path else message


def check_json(value, *, field=None):
    """Raise a 400 ValidationError (naming `field`, or the top-level key) past the bounds."""
    problem = _problem(value, field or "")
    if problem:
        _raise(*problem, field=field)


# No serializer has a field name anywhere near this long.
MAX_FIELD_NAME_CHARS = 200


def check_form(data):
    """Form and multipart fields: every value a bounded string."""
    max_chars = settings.STEWARD_API_MAX_STRING_CHARS
    for key, values in data.lists():
        if len(key) > MAX_FIELD_NAME_CHARS:
            raise ValidationError({NON_FIELD: [f"Field names of at most {MAX_FIELD_NAME_CHARS} characters."]})
        for value in values:
            if isinstance(value, str) and len(value) > max_chars:
                raise ValidationError({key: [f"At most {max_chars} characters (got {len(value)})."]})


def _read_bounded(stream):
    """The body, refusing (413) past DATA_UPLOAD_MAX_MEMORY_SIZE without reading it all."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = stream.read(limit + 1) if limit is not None else stream.read()
    if limit is not None and len(body) > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    return io.BytesIO(body)


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(_read_bounded(stream), media_type, parser_context)
        except RecursionError:
            # The C decoder gives up on very deep nesting before we can count the levels.
            raise ValidationError(
                {NON_FIELD: [f"Nested at most {settings.STEWARD_API_MAX_JSON_DEPTH} levels deep."]}
            ) from None
        check_json(data)
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(_read_bounded(stream), media_type, parser_context)
        check_form(data)
        return data


def bounded(parser_class):
    """`parser_class` (a multipart parser) with its form fields checked by `check_form`."""

    class Bounded(parser_class):
        def parse(self, stream, media_type=None, parser_context=None):
            result = super().parse(stream, media_type, parser_context)
            check_form(result.data)
            return result

    Bounded.__name__ = Bounded.__qualname__ = f"Bounded{parser_class.__name__}"
    return Bounded


# Django's multipart parser already refuses non-file data past DATA_UPLOAD_MAX_MEMORY_SIZE and
# more than DATA_UPLOAD_MAX_NUMBER_FIELDS fields; files are bounded where they are stored.
MultiPartParser = bounded(parsers.MultiPartParser)
