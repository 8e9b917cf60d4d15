"""On PostgreSQL: refuse TRUNCATE as well (a statement trigger), and let the row trigger allow
exactly one UPDATE — sealing, which fills `seq`, `prev_hash` and `hash` of an event that has none
and changes nothing else (see `audit.services`)."""

from django.db import migrations

ROW_SQL = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND OLD.hash IS NULL
       AND NEW.seq IS NOT NULL AND NEW.hash IS NOT NULL
       AND (NEW.id, NEW.timestamp, NEW.actor_id, NEW.actor_username, NEW.action, NEW.object_type,
            NEW.object_id, NEW.object_repr, NEW.changes, NEW.request_id, NEW.source_ip)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.timestamp, OLD.actor_id, OLD.actor_username, OLD.action, OLD.object_type,
            OLD.object_id, OLD.object_repr, OLD.changes, OLD.request_id, OLD.source_ip)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

TRUNCATE_SQL = """
CREATE OR REPLACE FUNCTION audit_event_no_truncate() RETURNS trigger AS $$
BEGIN
    -- A superuser is beyond any control inside the database (it may drop this trigger); the
    -- signed checkpoints catch what it does. Django's test runner connects as one and empties
    -- every table between transactional tests. Steward itself never connects as a superuser.
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit_auditevent is append-only: TRUNCATE refused'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent;
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_no_truncate();
"""

PREVIOUS_ROW_SQL = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_no_truncate();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ROW_SQL, params=None)
        schema_editor.execute(TRUNCATE_SQL, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PREVIOUS_ROW_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_unsealed_events")]
    operations = [migrations.RunPython(forward, backward)]
