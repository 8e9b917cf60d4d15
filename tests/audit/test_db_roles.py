"""PostgreSQL: the app's database role cannot rewrite the trail, and TRUNCATE is refused.

`scripts/services.sh` creates the roles `steward_app` and `steward_owner`; `migrate` grants the
app role its privileges (`audit.dbroles`). The suite connects as the superuser (see
services.sh); these tests switch to the other roles with SET ROLE.
"""

import contextlib

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from audit.models import AuditEvent
from audit.services import audit_record
from audit.verify import audit_chain_verify

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]
APP = "steward_app"


@pytest.fixture(autouse=True)
def _roles_exist(_postgres_only):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_roles WHERE rolname IN ('steward_app', 'steward_owner')")
        if cursor.fetchone()[0] != 2 or settings.STEWARD_DB_APP_ROLE != APP:
            pytest.skip("needs the roles scripts/services.sh creates (STEWARD_DB_APP_ROLE=steward_app)")


@contextlib.contextmanager
def as_role(role):
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {role}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def _refused(sql, params=(), match=""):
    with pytest.raises(DatabaseError, match=match), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def _privilege(check, *args) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {check}(%s, 'audit_auditevent', {', '.join(['%s'] * len(args))})", [APP, *args])
        return cursor.fetchone()[0]


def test_migrate_grants_the_app_role_read_and_insert_only():
    assert _privilege("has_table_privilege", "SELECT") and _privilege("has_table_privilege", "INSERT")
    for denied in ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES"):
        assert not _privilege("has_table_privilege", denied), denied
    # Sealing fills the chain columns of an event that has none (the trigger checks the rest).
    assert _privilege("has_column_privilege", "hash", "UPDATE")
    assert not _privilege("has_column_privilege", "action", "UPDATE")
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_auditevent'")
        assert cursor.fetchone()[0] != APP


def test_the_app_role_writes_the_trail(cast):
    with as_role(APP):
        event = audit_record(action="test.as_app", actor=cast["dana"], object_type="x", object_id="1")
        assert event.seq is not None
        assert audit_chain_verify().ok


def test_the_app_role_cannot_rewrite_or_empty_the_trail(cast):
    event = audit_record(action="test.event", object_type="x", object_id="1")
    with as_role(APP):
        _refused("UPDATE audit_auditevent SET action = 'x' WHERE id = %s", [event.pk], "permission denied")
        _refused("DELETE FROM audit_auditevent WHERE id = %s", [event.pk], "permission denied")
        _refused("TRUNCATE audit_auditevent", match="permission denied")
        _refused("ALTER TABLE audit_auditevent DISABLE TRIGGER USER", match="must be owner")
        _refused("DROP TRIGGER audit_event_no_truncate ON audit_auditevent", match="must be owner")
    assert AuditEvent.objects.filter(pk=event.pk, action="test.event").exists()


def test_truncate_is_refused_by_the_trigger_even_with_the_privilege(cast):
    """The owner role (which may be given TRUNCATE) hits the statement trigger."""
    audit_record(action="test.event", object_type="x", object_id="1")
    with connection.cursor() as cursor:
        cursor.execute("GRANT TRUNCATE ON audit_auditevent TO steward_owner")  # rolled back with the test
    with as_role("steward_owner"):
        _refused("TRUNCATE audit_auditevent", match="TRUNCATE refused")
    assert AuditEvent.objects.exists()


def test_a_superusers_truncate_is_reported_by_the_checkpoint():
    from audit.checkpoints import checkpoint_write

    for i in range(3):
        audit_record(action="test.event", object_type="x", object_id=str(i))
    checkpoint_write()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_auditevent")  # the suite's superuser: beyond the trigger
    report = audit_chain_verify()
    assert not report.ok and report.checked == 0 and "truncated" in report.reason
