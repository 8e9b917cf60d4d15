"""Bounded input: strings, JSON objects (keys, depth, size) and bodies have limits, configurable in
settings, answered with 400 naming the field (413 for a body past the upload limit); nothing of
a refused request is stored."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.models import ModelVersion, UseCase

pytestmark = pytest.mark.django_db


def refused(response, status, field):
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert body["status"] == status
    assert field in body["errors"], body
    return body["errors"][field]


def post_json(client, url, payload):
    return client.generic("POST", url, json.dumps(payload), content_type="application/json")


def test_an_11_mb_purpose_is_refused_and_not_stored(api, cast):
    before = UseCase.objects.count()
    response = post_json(api("dana"), "/api/v1/use-cases/", {"name": "big", "purpose": "x" * (11 * 1024 * 1024), "business_unit": "r"})
    [message] = refused(response, 400, "purpose")
    assert "65536 characters" in message
    assert UseCase.objects.count() == before


def test_a_purpose_at_the_limit_is_accepted(api, cast, settings):
    settings.STEWARD_API_MAX_STRING_CHARS = 100
    response = post_json(api("dana"), "/api/v1/use-cases/", {"name": "ok", "purpose": "x" * 100, "business_unit": "r"})
    assert response.status_code == 201, response.content
    response = post_json(api("dana"), "/api/v1/use-cases/", {"name": "no", "purpose": "x" * 101, "business_unit": "r"})
    refused(response, 400, "purpose")


def test_metrics_with_600000_keys_are_refused_before_anything_is_stored(api, inventory):
    metrics = {f"m{i}": 0.5 for i in range(600_000)}
    response = post_json(
        api("dana"), "/api/v1/models/credit-gbm/versions/",
        {"artifact_uri": "s3://x", "sha256": "a" * 64, "metrics": metrics},
    )
    [message] = refused(response, 400, "metrics")
    assert "1000 keys" in message and "600000" in message
    assert ModelVersion.objects.count() == 1


def test_metrics_too_deep_are_refused_with_the_path(api, inventory, settings):
    settings.STEWARD_API_MAX_JSON_DEPTH = 5
    deep = 0.5
    for _ in range(10):
        deep = {"a": deep}
    response = post_json(api("dana"), "/api/v1/models/credit-gbm/versions/", {"artifact_uri": "s3://x", "sha256": "a" * 64, "metrics": deep})
    [message] = refused(response, 400, "metrics")
    assert message.startswith("metrics.a.a.a.a") and "5 levels" in message


def test_a_deeply_nested_body_does_not_reach_python_s_recursion_limit(api, inventory):
    body = '{"params": ' + "[" * 5000 + "]" * 5000 + "}"
    response = api("dana").generic("POST", "/api/v1/models/credit-gbm/versions/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["status"] == 400


def test_long_lists_and_long_keys_are_refused(api, inventory, settings):
    settings.STEWARD_API_MAX_JSON_ITEMS = 10
    response = post_json(api("dana"), "/api/v1/models/credit-gbm/versions/", {"artifact_uri": "s3://x", "sha256": "a" * 64, "tags": [f"t{i}" for i in range(11)]})
    refused(response, 400, "tags")
    settings.STEWARD_API_MAX_STRING_CHARS = 20
    response = post_json(api("dana"), "/api/v1/models/credit-gbm/versions/", {"artifact_uri": "s3://x", "sha256": "a" * 64, "params": {"k" * 21: 1}})
    refused(response, 400, "params")


def test_too_many_values_in_all_are_refused(api, inventory, settings):
    settings.STEWARD_API_MAX_JSON_NODES = 50
    response = post_json(api("dana"), "/api/v1/models/credit-gbm/versions/", {"artifact_uri": "s3://x", "sha256": "a" * 64, "params": {"a": list(range(60))}})
    assert response.status_code == 400


def test_multipart_fields_are_bounded_too(api, inventory, settings):
    settings.STEWARD_API_MAX_STRING_CHARS = 1000
    settings.STEWARD_API_MAX_JSON_KEYS = 5
    client = api("dana")
    url = "/api/v1/models/credit-gbm/versions/"
    response = client.post(url, {"artifact": SimpleUploadedFile("m.bin", b"w"), "description": "d" * 1001}, format="multipart")
    refused(response, 400, "description")
    metrics = json.dumps({f"m{i}": 1 for i in range(6)})
    response = client.post(url, {"artifact": SimpleUploadedFile("m.bin", b"w"), "metrics": metrics}, format="multipart")
    [message] = refused(response, 400, "metrics")
    assert "5 keys" in message
    assert ModelVersion.objects.count() == 1


def test_form_fields_are_bounded(api, cast, settings):
    settings.STEWARD_API_MAX_STRING_CHARS = 10
    response = api("dana").generic(
        "POST", "/api/v1/use-cases/", "name=x&business_unit=b&purpose=" + "p" * 11,
        content_type="application/x-www-form-urlencoded",
    )
    refused(response, 400, "purpose")


def test_a_json_body_past_the_default_50_mb_is_413_json(api, cast):
    body = b'{"name": "x", "purpose": "' + b"a" * (50 * 1024 * 1024) + b'", "business_unit": "b"}'
    response = api("dana").generic("POST", "/api/v1/use-cases/", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_every_view_parses_through_the_bounded_parsers():
    """A view with its own parsers would skip the bounds: each must be (a subclass of) ours."""
    from django.urls import get_resolver
    from rest_framework.views import APIView

    from core import limits

    ours = (limits.JSONParser, limits.FormParser, limits.MultiPartParser)
    unbounded = []

    def walk(patterns):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                walk(p.url_patterns)
                continue
            view = getattr(p.callback, "cls", None)
            if view is None or not issubclass(view, APIView):
                continue
            for parser in view.parser_classes:
                if not (issubclass(parser, ours) or parser.__name__.startswith("Bounded")):
                    unbounded.append(f"{view.__name__}: {parser.__name__}")
            for action in getattr(p.callback, "actions", {}).values():
                handler = getattr(view, action, None)
                for parser in (getattr(handler, "kwargs", {}) or {}).get("parser_classes", []):
                    if not issubclass(parser, ours):
                        unbounded.append(f"{view.__name__}.{action}: {parser.__name__}")

    walk(get_resolver().url_patterns)
    assert not unbounded, unbounded
