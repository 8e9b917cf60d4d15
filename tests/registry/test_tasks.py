"""The artifact check, delivered twice: one check, one audit event."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from core.models import BackgroundJob
from registry import services
from registry.tasks import artifact_verify

pytestmark = pytest.mark.django_db


def test_an_artifact_check_delivered_twice_checks_and_audits_once(inventory, cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        version = services.model_version_register(actor=cast["dana"], model=inventory["model"],
                                                  artifact=SimpleUploadedFile("m.bin", b"weights"))
    job = BackgroundJob.objects.get(kind="artifact_verify", object_id=str(version.pk))
    assert job.task == "registry.tasks.artifact_verify"  # sent by name
    assert artifact_verify(job.pk) == "succeeded"
    assert artifact_verify(job.pk) == "skipped: job already claimed or finished"
    version.refresh_from_db()
    job.refresh_from_db()
    assert version.status == "verified" and (job.attempts, job.result["status"]) == (1, "verified")
    assert AuditEvent.objects.filter(action="model_version.artifact_check", object_id=str(version.pk)).count() == 1
