"""The privacy pages: forms call the services and show their refusals."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from privacy.models import Obligation, SubjectRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def browse(cast, settings):
    from django.test import Client

    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

    def client_for(username):
        client = Client()
        client.force_login(cast[username])
        return client

    return client_for


def test_bad_key_file_on_the_dataset_page_names_the_line(world, browse):
    fresh = world["ds"]("fresh")
    r = browse("dana").post(f"/datasets/{fresh.pk}/subject-keys/", {"file": SimpleUploadedFile("k.txt", b"ok\nnot ok\n")})
    assert r.status_code == 400 and "Line 2:" in r.content.decode()
    r = browse("dana").post(f"/datasets/{fresh.pk}/subject-keys/", {"file": SimpleUploadedFile("k.txt", b"ok\n")})
    assert r.status_code == 302
    assert "1 key(s), stored as salted hashes" in browse("dana").get(f"/datasets/{fresh.pk}/").content.decode()


def test_a_risk_officer_records_an_erasure_and_lands_on_its_receipt(world, browse):
    r = browse("rita").post("/privacy/", {"kind": "erasure", "subject_key": "alice", "reference": "DSR-9"})
    made = SubjectRequest.objects.get(reference="DSR-9")
    assert r.status_code == 302 and r["Location"] == f"/privacy/requests/{made.pk}/"
    body = browse("rita").get(r["Location"]).content.decode()
    assert "credit-gbm v1" in body and "Sign the risk acceptance" in body
    # dana's page offers her no signature, and a forged post is refused.
    obligation = made.obligations.get(model=world["credit"])
    assert "Sign the risk acceptance" not in browse("dana").get(r["Location"]).content.decode()
    r = browse("dana").post(f"/privacy/obligations/{obligation.pk}/sign/", {"statement": "mine"})
    assert r.status_code == 403
    assert Obligation.objects.get(pk=obligation.pk).signatures.count() == 0


def test_data_scientists_cannot_record_requests_from_the_page(world, browse):
    r = browse("dana").post("/privacy/", {"kind": "erasure", "subject_key": "alice"})
    assert r.status_code == 403 and not SubjectRequest.objects.exists()


def test_the_dashboard_lists_the_obligation_for_who_must_act(erasure, browse):
    body = browse("sam").get("/").content.decode()  # sam is the Accountable of model acceptance
    assert "Data-subject obligation" in body and "Retrain credit-gbm or accept the risk" in body
    assert "Data-subject obligation" not in browse("audrey").get("/").content.decode()
