"""The data-subject key index: salted hashes only, owner only, bad lines rejected by number."""

import hashlib
import hmac

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.errors import Conflict, Forbidden, InvalidInput
from privacy import services as privacy
from privacy.models import SubjectKey, SubjectKeyIndex

from .conftest import keys_file

pytestmark = pytest.mark.django_db


def test_only_salted_hashes_are_stored(world, settings):
    expected = hmac.new(settings.STEWARD_SUBJECT_KEY_SECRET.encode(), b"alice", hashlib.sha256).hexdigest()
    stored = set(SubjectKey.objects.filter(dataset=world["raw"]).values_list("key_hash", flat=True))
    assert expected in stored and len(stored) == 2
    assert not SubjectKey.objects.filter(key_hash__in=["alice", "bob", hashlib.sha256(b"alice").hexdigest()]).exists()


def test_bad_lines_are_rejected_with_their_numbers_and_nothing_is_stored(world, cast):
    fresh = world["ds"]("fresh")
    bad = SimpleUploadedFile("k.txt", b"dave\nerin smith\n\nfrank\n" + b"\xff\xfe\n" + b"x" * 300 + b"\n")
    with pytest.raises(InvalidInput) as exc:
        privacy.subject_keys_upload(actor=cast["dana"], dataset=fresh, fileobj=bad)
    errors = exc.value.fields["file"]
    assert [e.split(":")[0] for e in errors] == ["Line 2", "Line 3", "Line 5", "Line 6"]
    assert not SubjectKey.objects.filter(dataset=fresh).exists()
    assert not SubjectKeyIndex.objects.filter(dataset=fresh).exists()


def test_a_line_longer_than_a_read_chunk_is_one_bad_line(world, cast):
    fresh = world["ds"]("fresh")
    data = b"ok-1\n" + b"y" * 200_000 + b"\nok-2\r\nbad key\n"
    with pytest.raises(InvalidInput) as exc:
        privacy.subject_keys_upload(actor=cast["dana"], dataset=fresh, fileobj=SimpleUploadedFile("k.txt", data))
    assert [e.split(":")[0] for e in exc.value.fields["file"]] == ["Line 2", "Line 4"]
    assert "Longer than" in exc.value.fields["file"][0]


def test_a_large_file_is_stored_in_batches_with_duplicates_once(world, cast):
    fresh = world["ds"]("fresh")
    lines = [f"customer-{i}" for i in range(12_000)] + ["customer-1"]
    index = privacy.subject_keys_upload(actor=cast["dana"], dataset=fresh, fileobj=keys_file(*lines))
    assert index.key_count == 12_000 == SubjectKey.objects.filter(dataset=fresh).count()


def test_only_the_owner_or_an_admin_uploads(world, cast):
    fresh = world["ds"]("fresh")
    for who in ("sam", "rita", "audrey"):
        with pytest.raises(Forbidden):
            privacy.subject_keys_upload(actor=cast[who], dataset=fresh, fileobj=keys_file("x"))
    privacy.subject_keys_upload(actor=cast["root"], dataset=fresh, fileobj=keys_file("x"))


def test_the_index_is_written_once(world, cast):
    """Replacing it could drop a subject and escape an obligation: changed data is a new version."""
    with pytest.raises(Conflict):
        privacy.subject_keys_upload(actor=cast["dana"], dataset=world["raw"], fileobj=keys_file("alice"))


def test_upload_over_the_api_with_line_numbers(world, api):
    fresh = world["ds"]("fresh")
    r = api("dana").post(f"/api/v1/datasets/{fresh.pk}/subject-keys/", {"file": SimpleUploadedFile("k.txt", b"ok\nno good\n")},
                         format="multipart")
    assert r.status_code == 400 and r.json()["errors"]["file"][0].startswith("Line 2:")
    r = api("sam").post(f"/api/v1/datasets/{fresh.pk}/subject-keys/", {"file": SimpleUploadedFile("k.txt", b"ok\n")},
                        format="multipart")
    assert r.status_code == 403
    r = api("dana").post(f"/api/v1/datasets/{fresh.pk}/subject-keys/", {"file": SimpleUploadedFile("k.txt", b"ok\n")},
                         format="multipart")
    assert r.status_code == 201 and r.json()["key_count"] == 1
    assert api("audrey").get(f"/api/v1/datasets/{fresh.pk}/subject-keys/").json()["key_count"] == 1


def test_upload_memory_does_not_grow_with_the_file(world, cast):
    """Streaming: four times the keys, about the same peak of Python allocations (the file
    itself, held in memory by the test, was allocated before tracing started)."""
    import tracemalloc

    def peak_for(n):
        upload = SimpleUploadedFile("k.txt", "".join(f"customer-{i:07d}\n" for i in range(n)).encode())
        dataset = world["ds"](f"big-{n}")
        tracemalloc.start()
        privacy.subject_keys_upload(actor=cast["dana"], dataset=dataset, fileobj=upload)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    peak_for(1_000)  # warm caches and imports
    small, large = peak_for(20_000), peak_for(80_000)
    assert large < small * 1.5, (small, large)
