"""A real Celery worker process consuming the real Redis broker of the test run."""

import pytest

from core.models import BackgroundJob
from registry.models import ModelVersion

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_worker_verifies_uploaded_artifact(celery_worker, cast, api, wait_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from registry import services

    dana = cast["dana"]
    uc = services.use_case_create(actor=dana, name="Worker")
    model = services.model_create(actor=dana, name="worker-model", use_case=uc)
    response = api("dana").post(
        "/api/v1/models/worker-model/versions/",
        {"artifact": SimpleUploadedFile("m.bin", b"bytes for the worker")},
        format="multipart",
    )
    assert response.status_code == 201
    version = ModelVersion.objects.get(model=model, number=1)
    job = wait_for(lambda: BackgroundJob.objects.filter(object_id=str(version.pk), status="succeeded").first())
    assert job.result["status"] == "verified"
    version.refresh_from_db()
    assert version.status == "verified"


def test_worker_detects_corrupted_artifact(celery_worker, cast, wait_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from registry import services
    from registry.tasks import artifact_verify

    dana = cast["dana"]
    uc = services.use_case_create(actor=dana, name="Corrupt")
    model = services.model_create(actor=dana, name="corrupt-model", use_case=uc)
    version = services.model_version_register(actor=dana, model=model, artifact=SimpleUploadedFile("m.bin", b"good"))
    wait_for(lambda: BackgroundJob.objects.filter(object_id=str(version.pk), status="succeeded").first())
    with version.artifact.open("wb") as fh:  # the storage rots behind our back
        fh.write(b"bad!")
    job = services.model_version_artifact_check_enqueue(version=version)
    artifact_verify.delay(job.pk)  # a duplicate delivery must be harmless
    wait_for(lambda: BackgroundJob.objects.filter(pk=job.pk, status="succeeded").first())
    version.refresh_from_db()
    assert version.status == "corrupt"
    job.refresh_from_db()
    assert job.attempts == 1
