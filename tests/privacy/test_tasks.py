"""The retention sweep, its beat message delivered twice: one obligation per model, one audit
event each."""

from datetime import date

import pytest

from audit.models import AuditEvent
from core.models import BackgroundJob
from core.services import job_create
from privacy.models import Obligation
from privacy.tasks import retention_obligations_task
from registry import services as reg

pytestmark = pytest.mark.django_db


def test_the_retention_beat_delivered_twice_opens_each_obligation_once(world, cast):
    reg.dataset_update(actor=cast["dana"], dataset=world["cleaned"], retention_until=date(2020, 1, 1))
    job = job_create(kind="retention_obligations")
    assert retention_obligations_task(job.pk) == 2
    assert retention_obligations_task(job.pk) == "skipped"
    assert retention_obligations_task() == 0  # the next beat finds them open already
    opened = Obligation.objects.filter(source="retention")
    assert sorted(o.model.name for o in opened) == ["churn-lr", "credit-gbm"]
    assert BackgroundJob.objects.get(pk=job.pk).result == {"opened": sorted(o.pk for o in opened)}
    assert AuditEvent.objects.filter(action="obligation.open", object_id__in=[str(o.pk) for o in opened]).count() == 2
