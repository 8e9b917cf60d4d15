"""Approvals arriving together promote exactly once; a model never has two production versions."""

import threading

import pytest
from django.db import connection

from audit.models import AuditEvent
from core.errors import Conflict
from governance.classification import classification_submit
from governance.models import PromotionRequest
from governance.promotions import promotion_request, signoff_approve
from registry import services as registry
from registry.models import ModelVersion

from .conftest import answers


def _race(calls):
    barrier = threading.Barrier(len(calls))
    outcomes = []

    def run(call):
        try:
            barrier.wait()
            call()
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")
        except Exception as exc:  # pragma: no cover - reported by the assertion
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes)


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_promote_exactly_once(inventory, cast):
    dana, version = cast["dana"], inventory["version"]
    classification_submit(actor=cast["rita"], use_case=inventory["use_case"], answers=answers())
    p = promotion_request(actor=dana, version=version, target_stage="qa")
    approvers = [cast["rita"], cast["omar"], cast["sam"], cast["root"]]
    outcomes = _race([
        (lambda who=who: signoff_approve(promotion=PromotionRequest.objects.get(pk=p.pk), actor=who))
        for who in approvers
    ])
    assert outcomes == ["conflict"] * 3 + ["ok"]
    assert PromotionRequest.objects.get(pk=p.pk).status == "promoted"
    assert AuditEvent.objects.filter(action="model_version.stage_change", object_id=str(version.pk)).count() == 1
    assert AuditEvent.objects.filter(action="signoff.approve").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_versions_racing_into_production_leave_one(inventory, cast):
    dana, model = cast["dana"], inventory["model"]
    classification_submit(actor=cast["rita"], use_case=inventory["use_case"], answers=answers())
    v1 = inventory["version"]
    v2 = registry.model_version_register(actor=dana, model=model, artifact_uri="s3://v2", sha256="2" * 64, code_commit="def")
    requests = []
    for v in (v1, v2):
        for stage in ("qa", "preproduction"):
            signoff_approve(promotion=promotion_request(actor=dana, version=v, target_stage=stage), actor=cast["rita"])
        requests.append(promotion_request(actor=dana, version=v, target_stage="production"))
    outcomes = _race([
        (lambda p=p, who=who: signoff_approve(promotion=PromotionRequest.objects.get(pk=p.pk), actor=who))
        for p, who in zip(requests, [cast["rita"], cast["omar"]], strict=True)
    ])
    assert outcomes == ["ok", "ok"]
    stages = dict(ModelVersion.objects.filter(model=model).values_list("number", "stage"))
    assert sorted(stages.values()) == ["archived", "production"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_http_approvals_one_200_rest_409(inventory, cast):
    from rest_framework.test import APIClient

    from core.services import token_create

    dana = cast["dana"]
    classification_submit(actor=cast["rita"], use_case=inventory["use_case"], answers=answers())
    p = promotion_request(actor=dana, version=inventory["version"], target_stage="qa")
    keys = [token_create(user=cast[u], actor=cast[u])[1] for u in ("rita", "omar", "sam")]
    barrier = threading.Barrier(len(keys))
    codes = []

    def post(key):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        barrier.wait()
        codes.append(client.post(f"/api/v1/promotions/{p.pk}/approve/", {"comment": "ok"}, format="json").status_code)
        connection.close()

    threads = [threading.Thread(target=post, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 409, 409]
    inventory["version"].refresh_from_db()
    assert inventory["version"].stage == "qa"
