"""The OpenAPI document is generated from the code; it must build cleanly and validate, so the
published API docs cannot drift from what the endpoints do."""

import pytest
from django.core.management import call_command


def test_schema_generates_without_warnings_and_validates(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ["/api/v1/models/", "/api/v1/models/{name}/versions/", "/api/v1/datasets/", "/api/v1/use-cases/"]:
        assert f"{path}:" in text


@pytest.mark.django_db
def test_schema_and_docs_are_served(client, cast):
    client.force_login(cast["dana"])
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
