"""PostgreSQL: registrations, artifact checks, approvals and dataset changes running together
never deadlock, never answer 5xx, and leave the chain intact (issue 8, point 4).

Before events could wait for their place in the chain (`audit.services`), an approval held the
chain lock and wanted the model's version rows, while a registration or an artifact check held a
version row and wanted the chain lock: PostgreSQL reported `deadlock detected`. Every thread here
runs as the app's database role, as production does.
"""

import hashlib
import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from rest_framework.test import APIClient

from audit.models import AuditEvent
from audit.services import audit_seal, audit_unsealed_count
from audit.verify import audit_chain_verify
from core.services import token_create
from governance.promotions import promotion_request
from registry import services as registry
from registry.models import ModelVersion

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 25  # per thread; five threads: about 250 requests and checks


def _client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=user, actor=user)[1]}")
    return client


def test_concurrent_writers_do_not_deadlock(inventory, cast):
    from governance.classification import classification_submit

    from ..governance.conftest import answers

    dana = cast["dana"]
    model, accounts = inventory["model"], inventory["datasets"][0]
    classification_submit(actor=cast["omar"], use_case=inventory["use_case"], answers=answers())
    checked = [inventory["version"]] + [
        registry.model_version_register(actor=dana, model=model, artifact=SimpleUploadedFile("m.bin", f"w{i}".encode()),
                                        training_datasets=[accounts])
        for i in range(2)
    ]
    # Open requests on the checked versions, so dataset changes have approvals to lapse.
    for version in checked:
        promotion_request(actor=dana, version=version, target_stage="qa")
    clients = {name: _client(cast[name]) for name in ("dana", "rita")}
    failures, statuses, lock = [], [], threading.Lock()
    barrier = threading.Barrier(5)

    def expect(response, *ok):
        with lock:
            statuses.append(response.status_code)
        if response.status_code not in ok:
            raise AssertionError(f"{response.status_code}: {response.content[:300]!r}")
        return response.json()

    def register(i, client=None):
        body = {"artifact_uri": f"s3://m/{i}-{time.monotonic_ns()}", "sha256": hashlib.sha256(str(i).encode()).hexdigest(),
                "training_datasets": [accounts.pk]}
        return expect((client or clients["dana"]).post(f"/api/v1/models/{model.name}/versions/", body, format="json"), 201)

    def approve_round(i):
        number = register(f"a{i}")["number"]
        p = expect(clients["dana"].post("/api/v1/promotions/", {"model": model.name, "version": number, "target_stage": "qa"},
                                        format="json"), 201, 409)
        if "id" in p:
            expect(clients["rita"].post(f"/api/v1/promotions/{p['id']}/approve/", {"comment": "ok"}, format="json"), 200, 409)

    def check_round(i):
        version = checked[i % len(checked)]
        path = ModelVersion.objects.get(pk=version.pk).artifact.path
        original = open(path, "rb").read()
        with open(path, "wb") as fh:  # corrupt, check, restore, check: each check changes the status
            fh.write(b"tampered" if i % 2 else original)
        registry.model_version_artifact_verify(version_id=version.pk)
        with open(path, "wb") as fh:
            fh.write(original)
        registry.model_version_artifact_verify(version_id=version.pk)

    def dataset_round(i):
        # The dataset is evidence (versions were trained on it): a new description is a change
        # (row lock, event in the same transaction); a new hash is refused (its refusal audited).
        if i % 2:
            body = {"sha256": hashlib.sha256(f"data{i}".encode()).hexdigest(), "source_uri": f"s3://a/{i}"}
            expect(clients["dana"].patch(f"/api/v1/datasets/{accounts.pk}/", body, format="json"), 409)
        else:
            expect(clients["dana"].patch(f"/api/v1/datasets/{accounts.pk}/", {"description": f"round {i}"},
                                         format="json"), 200)

    def worker(step):
        with connection.cursor() as cursor:
            cursor.execute("SET ROLE steward_app")
        barrier.wait()
        try:
            for i in range(ROUNDS):
                try:
                    step(i)
                except Exception as exc:  # every failure is reported by the assertion below
                    with lock:
                        failures.append(f"{step.__name__} round {i}: {exc!r}"[:400])
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(step,))
               for step in (register, approve_round, check_round, dataset_round, approve_round)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert not failures, "\n".join(failures[:10])
    assert not [s for s in statuses if s >= 500]
    assert len(statuses) >= ROUNDS * 5
    audit_seal()
    assert audit_unsealed_count() == 0
    report = audit_chain_verify()
    assert report.ok, report
    assert report.checked == AuditEvent.objects.count()
    assert AuditEvent.objects.filter(action="model_version.artifact_check").count() >= ROUNDS
    assert AuditEvent.objects.filter(action="dataset.update", object_id=str(accounts.pk)).count() >= ROUNDS // 2
    assert AuditEvent.objects.filter(action="signoff.approve").exists()
