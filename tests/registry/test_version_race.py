"""Version numbers under concurrency, on PostgreSQL: no gaps, no duplicates."""

import threading

import pytest
from django.db import connection

from registry import services
from registry.models import ModelVersion, RegisteredModel


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_get_consecutive_numbers(cast):
    assert connection.vendor == "postgresql"
    dana = cast["dana"]
    uc = services.use_case_create(actor=dana, name="Race")
    model = services.model_create(actor=dana, name="racer", use_case=uc)
    n_threads = 12
    barrier = threading.Barrier(n_threads)
    errors = []

    def register(i):
        try:
            barrier.wait()
            services.model_version_register(
                actor=dana, model=RegisteredModel.objects.get(pk=model.pk),
                artifact_uri=f"s3://m/{i}", sha256=f"{i:064x}",
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    numbers = sorted(ModelVersion.objects.filter(model=model).values_list("number", flat=True))
    assert numbers == list(range(1, n_threads + 1))


@pytest.mark.django_db(transaction=True)
def test_concurrent_api_requests(cast):
    """The same race through real HTTP-level request handling (the test client, threaded)."""
    dana = cast["dana"]
    uc = services.use_case_create(actor=dana, name="Race2")
    services.model_create(actor=dana, name="racer2", use_case=uc)
    from rest_framework.test import APIClient

    from core.services import token_create

    _, key = token_create(user=dana, actor=dana)
    results = []
    barrier = threading.Barrier(8)

    def post(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        barrier.wait()
        response = client.post("/api/v1/models/racer2/versions/", {"artifact_uri": f"s3://{i}", "sha256": f"{i:064x}"})
        results.append(response.status_code)
        connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201] * 8
    assert sorted(ModelVersion.objects.filter(model__name="racer2").values_list("number", flat=True)) == list(range(1, 9))
