"""PostgreSQL: an event written while another transaction holds the chain lock does not wait
for it; it is written unsealed and takes its place right after its own transaction commits."""

import threading

import pytest
from django.db import connection, transaction

from audit.models import AuditEvent
from audit.services import audit_record, audit_seal, audit_unsealed_count
from audit.verify import audit_chain_verify

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_busy_chain_does_not_make_a_writer_wait(cast):
    holding, release = threading.Event(), threading.Event()

    def holder():
        with transaction.atomic():
            audit_record(action="test.holder", object_type="x")  # takes the free chain lock to commit
            holding.set()
            release.wait(20)
        connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    assert holding.wait(20)
    try:
        with transaction.atomic():
            event = audit_record(action="test.writer", actor=cast["dana"], object_type="x")
            assert event.seq is None and event.hash is None  # did not wait: unsealed
            # The holder has not committed: the writer's own transaction sees no sealed head move.
            threading.Timer(0.5, release.set).start()
        # After commit `audit_seal` waited for the holder, then placed the event after its event.
    finally:
        release.set()
        thread.join()
    event.refresh_from_db()
    holder_event = AuditEvent.objects.get(action="test.holder")
    assert event.seq == holder_event.seq + 1 and event.prev_hash == holder_event.hash
    assert audit_unsealed_count() == 0
    assert audit_chain_verify().ok


def test_seal_places_leftovers_in_id_order(cast):
    """A process that died between commit and sealing leaves unsealed events; beat's seal
    (or the next writer) places them."""
    first = audit_record(action="test.first", object_type="x")
    left = [AuditEvent.objects.create(timestamp=first.timestamp, action=f"test.left{i}") for i in range(3)]
    assert audit_unsealed_count() == 3
    nxt = audit_record(action="test.next", object_type="x")  # the next writer seals them first
    assert [AuditEvent.objects.get(pk=e.pk).seq for e in left] == [first.seq + 1, first.seq + 2, first.seq + 3]
    assert nxt.seq == first.seq + 4
    AuditEvent.objects.create(timestamp=first.timestamp, action="test.late")
    assert audit_seal() == 1 and audit_seal() == 0
    assert audit_chain_verify().ok
