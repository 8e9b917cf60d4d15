"""Every error under /api/ is the JSON error shape, whatever raised it; the portal keeps HTML."""

import logging

import pytest
from django.db import OperationalError, connection

pytestmark = pytest.mark.django_db

SHAPE = {"status", "code", "detail", "errors", "request_id"}


def assert_error(response, status, field=None):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == SHAPE
    assert body["status"] == status
    assert body["request_id"] == response["X-Request-ID"]
    if field:
        assert field in body["errors"], body
    return body


@pytest.mark.parametrize(
    "url, field",
    [
        ("/api/v1/models/?use_case=99999999999999999999", "use_case"),
        ("/api/v1/models/?use_case=-99999999999999999999", "use_case"),
        ("/api/v1/models/?dataset=-3e191", "dataset"),
        ("/api/v1/models/?dataset=1.5", "dataset"),
        ("/api/v1/models/credit-gbm/versions/?dataset=99999999999999999999", "dataset"),
        ("/api/v1/promotions/?version=99999999999999999999", "version"),
        ("/api/v1/policies/versions/?number=99999999999999999999", "number"),
        ("/api/v1/audit/events/?since=0001-01-01T00:00:00%2B05:00", "since"),
        ("/api/v1/models/?page_size=true", "page_size"),
        ("/api/v1/models/?page_size=0", "page_size"),
        ("/api/v1/models/?page_size=501", "page_size"),
        ("/api/v1/models/?page_size=%C2%B2", "page_size"),
        ("/api/v1/models/?page_size=" + "9" * 5000, "page_size"),
    ],
)
def test_out_of_range_and_junk_query_parameters_answer_400_naming_them(api, inventory, url, field):
    assert_error(api("dana").get(url), 400, field)


def test_integer_filters_still_filter(api, inventory):
    use_case = inventory["use_case"].pk
    assert api("dana").get(f"/api/v1/models/?use_case={use_case}").json()["count"] == 1
    assert api("dana").get(f"/api/v1/models/?use_case={use_case + 1}").json()["count"] == 0
    assert api("dana").get("/api/v1/models/?page_size=1").json()["count"] == 1


def test_time_filters_take_any_iso_offset(api, inventory):
    """PostgreSQL refuses offsets past ±15:59 that ISO 8601 allows; the filter converts to UTC."""
    response = api("audrey").get("/api/v1/audit/events/?until=0582-06-01T15:26:59-17:56")
    assert response.status_code == 200
    assert response.json()["count"] == 0
    response = api("audrey").get("/api/v1/audit/events/?since=2000-01-01T00:00:00-17:56")
    assert response.json()["count"] > 0


def test_a_value_the_database_refuses_is_400_not_500(api, cast):
    from django.db import DataError

    def refuse(execute, sql, params, many, context):
        raise DataError("value out of range")

    client = api("dana")
    client.get("/api/v1/me/")
    with connection.execute_wrapper(refuse):
        assert_error(client.get("/api/v1/models/"), 400)


def test_body_over_the_upload_limit_answers_json_413(api, cast, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = b'{"name": "x", "purpose": "' + b"a" * 2000 + b'", "business_unit": "b"}'
    response = api("dana").generic("POST", "/api/v1/use-cases/", body, content_type="application/json")
    assert_error(response, 413)


def test_form_body_over_the_upload_limit_answers_json_413(api, cast, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = "name=x&business_unit=b&purpose=" + "a" * 2000
    response = api("dana").generic(
        "POST", "/api/v1/use-cases/", body, content_type="application/x-www-form-urlencoded"
    )
    assert_error(response, 413)


def test_unknown_api_url_is_json_404_but_portal_keeps_html(api, client, cast):
    assert_error(api("dana").get("/api/v1/no-such-thing/"), 404)
    client.force_login(cast["dana"])
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_unacceptable_accept_header_is_json_406(api, cast):
    assert_error(api("dana").get("/api/v1/models/", HTTP_ACCEPT="text/csv"), 406)


def test_malformed_json_is_json_400(api, cast):
    response = api("dana").generic("POST", "/api/v1/use-cases/", b"{not json", content_type="application/json")
    assert_error(response, 400)


def test_unexpected_exception_is_json_500_with_request_id_logged_once(api, cast, monkeypatch, caplog):
    from registry.api import UseCaseViewSet

    def boom(**kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(UseCaseViewSet, "create_service", boom)
    with caplog.at_level(logging.INFO):
        response = api("dana").post(
            "/api/v1/use-cases/", {"name": "x", "purpose": "p", "business_unit": "b"},
            HTTP_X_REQUEST_ID="req-boom-1",
        )
    body = assert_error(response, 500)
    assert body["request_id"] == "req-boom-1"
    assert "req-boom-1" in body["detail"]
    assert "kaboom" not in body["detail"]  # no internals to the client
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "req-boom-1" in errors[0].getMessage()
    assert errors[0].exc_info and errors[0].exc_info[0] is RuntimeError


def test_exception_outside_drf_is_json_500(api, client, cast, monkeypatch, caplog):
    """A failure Django itself renders (here in the URL resolver) still answers JSON under /api/."""
    import portal.urls

    def broken_resolve(*args, **kwargs):
        raise RuntimeError("resolver down")

    client.force_login(cast["dana"])
    client.raise_request_exception = False
    from django.urls import resolvers

    monkeypatch.setattr(resolvers.URLResolver, "resolve", broken_resolve)
    with caplog.at_level(logging.INFO):
        response = client.get("/api/v1/models/")
    assert portal.urls  # the urlconf is loaded; only resolution fails
    assert_error(response, 500)
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1


def test_database_error_outside_drf_is_json_503(client, cast, monkeypatch):
    """Django renders what escapes a middleware; under /api/ it still becomes the JSON 503."""
    from django.urls import resolvers

    def unavailable(*args, **kwargs):
        raise OperationalError("could not connect to server")

    client.raise_request_exception = False
    monkeypatch.setattr(resolvers.URLResolver, "resolve", unavailable)
    response = client.get("/api/v1/models/")
    assert_error(response, 503)
    assert response["Retry-After"]


def _failing_database(execute, sql, params, many, context):
    raise OperationalError("server closed the connection unexpectedly")


def test_database_error_in_a_request_is_json_503_with_retry_after(api, cast, settings):
    client = api("dana")
    client.get("/api/v1/me/")  # the token is created (and the connection in use) before the outage
    with connection.execute_wrapper(_failing_database):
        response = client.get("/api/v1/models/")
    body = assert_error(response, 503)
    assert body["code"] == "unavailable"
    assert response["Retry-After"] == str(settings.STEWARD_API_RETRY_AFTER)
    assert client.get("/api/v1/models/").status_code == 200


def test_database_error_on_a_portal_page_stays_html(client, cast):
    client.force_login(cast["dana"])
    client.raise_request_exception = False
    with connection.execute_wrapper(_failing_database):
        response = client.get("/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
