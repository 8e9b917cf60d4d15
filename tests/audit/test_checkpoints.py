"""Signed checkpoints outside the database hold the chain to what it was: a deleted tail, a
truncated table or a chain re-hashed with the documented recipe is reported (both databases)."""

import json

import pytest
from django.core.management import CommandError, call_command

from audit.checkpoints import CheckpointMismatch, checkpoint_write, checkpoints_read
from audit.models import AuditEvent
from audit.selectors import latest_checkpoint
from audit.services import audit_record
from audit.verify import audit_chain_verify

from .conftest import rehash_from

pytestmark = pytest.mark.django_db


def _events(n):
    return [audit_record(action="test.event", object_type="x", object_id=str(i), changes={"i": i}) for i in range(n)]


def test_checkpoint_is_signed_and_names_the_head(checkpoint_file):
    events = _events(3)
    written = checkpoint_write()
    assert (written["seq"], written["hash"]) == (events[-1].seq, events[-1].hash)
    assert latest_checkpoint() == {k: written[k] for k in ("seq", "hash", "time")}
    assert checkpoint_write() is None  # nothing new: no new line
    _events(1)
    call_command("audit_checkpoint")
    lines = checkpoint_file.read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [events[-1].seq, events[-1].seq + 1]
    assert all(c["valid"] for c in checkpoints_read())
    # The key is not in the database: a different key makes every line invalid.
    (checkpoint_file.parent / "checkpoint.key").write_text("another-key\n")
    assert not any(c["valid"] for c in checkpoints_read())


def test_verification_reports_the_checkpoint_it_held_the_chain_to():
    _events(3)
    written = checkpoint_write()
    _events(2)  # events after the checkpoint are fine
    report = audit_chain_verify()
    assert report.ok
    assert report.checkpoint == {k: written[k] for k in ("seq", "hash", "time")}
    call_command("verify_audit_chain")


def test_deleted_tail_is_reported(tamper):
    events = _events(5)
    checkpoint_write()
    tamper("DELETE FROM audit_auditevent WHERE seq >= %s", [events[3].seq])
    report = audit_chain_verify()
    assert not report.ok
    assert report.first_broken_seq == events[-1].seq
    assert "deleted from the end" in report.reason
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("verify_audit_chain")


def test_emptied_table_is_reported(tamper):
    _events(3)
    checkpoint_write()
    tamper("DELETE FROM audit_auditevent")
    report = audit_chain_verify()
    assert not report.ok and report.checked == 0 and "truncated" in report.reason


def test_rehashed_chain_is_reported(tamper):
    events = _events(5)
    checkpoint_write()
    tamper("UPDATE audit_auditevent SET object_repr = 'innocent' WHERE id = %s", [events[1].pk])
    rehash_from(events[1].seq)
    # Without checkpoints the forgery would pass: every event matches its hash and links.
    assert audit_chain_verify(checkpoints=[]).ok
    report = audit_chain_verify()
    assert not report.ok
    assert report.first_broken_seq == events[-1].seq
    assert "re-hashed" in report.reason


def test_checkpoint_is_not_written_over_a_forged_chain(tamper):
    events = _events(3)
    checkpoint_write()
    tamper("DELETE FROM audit_auditevent WHERE seq = %s", [events[-1].seq])
    _events(2)  # the trail goes on, one event short
    with pytest.raises(CheckpointMismatch):
        checkpoint_write()
    with pytest.raises(CommandError, match="no longer matches"):
        call_command("audit_checkpoint")


def test_edited_checkpoint_line_is_reported(checkpoint_file):
    _events(3)
    written = checkpoint_write()
    forged = dict(written, seq=written["seq"] - 1)  # a forger rolls the checkpoint back
    checkpoint_file.write_text(json.dumps(forged) + "\n")
    report = audit_chain_verify()
    assert not report.ok and "signature" in report.reason


def test_verify_command_takes_a_copy_of_the_checkpoints(tmp_path, checkpoint_file, tamper):
    events = _events(4)
    checkpoint_write()
    copy = tmp_path / "worm-copy.jsonl"
    copy.write_text(checkpoint_file.read_text())
    checkpoint_file.unlink()  # whoever deleted the tail also removed the local file
    tamper("DELETE FROM audit_auditevent WHERE seq = %s", [events[-1].seq])
    call_command("verify_audit_chain")  # nothing to hold it to locally…
    with pytest.raises(CommandError, match="deleted from the end"):
        call_command("verify_audit_chain", checkpoints=copy)  # …but the copy does


def test_beat_task_seals_and_checkpoints():
    from audit.tasks import audit_checkpoint_task

    _events(2)
    assert audit_checkpoint_task() == f"checkpoint #{AuditEvent.objects.order_by('-seq').first().seq}"
    assert audit_checkpoint_task() == "no new events"
