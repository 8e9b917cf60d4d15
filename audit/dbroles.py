"""PostgreSQL: what the app's database role may do, granted after every `migrate`.

Migrations run as the owner role (which owns every table); the app runs as
`STEWARD_DB_APP_ROLE`, which gets read and write on the tables of the current schema except the
audit table, where it may only read and insert (plus the sealing columns, see `audit.services`).
No UPDATE of content, DELETE, TRUNCATE, ALTER or trigger changes: those need the owner.
See docs/operations.md, "Database roles".
"""

import logging

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

log = logging.getLogger(__name__)
AUDIT_TABLE = "audit_auditevent"


def app_role_grant(*, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Grant the app role its privileges; False when there is nothing to do (not PostgreSQL, no
    role configured, or the role does not exist in this cluster)."""
    role = settings.STEWARD_DB_APP_ROLE
    connection = connections[using]
    if not role or connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            log.warning("STEWARD_DB_APP_ROLE=%s does not exist; no privileges granted", role)
            return False
        cursor.execute("SELECT current_schema()")
        schema = connection.ops.quote_name(cursor.fetchone()[0])
        app = connection.ops.quote_name(role)
        table = connection.ops.quote_name(AUDIT_TABLE)
        for statement in (
            f"GRANT USAGE ON SCHEMA {schema} TO {app}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app}",
            f"REVOKE ALL ON {table} FROM PUBLIC, {app}",
            f"GRANT SELECT, INSERT ON {table} TO {app}",
            f"GRANT UPDATE (seq, prev_hash, hash) ON {table} TO {app}",
        ):
            cursor.execute(statement)
    return True


def post_migrate_grant(sender, using=DEFAULT_DB_ALIAS, **kwargs):
    app_role_grant(using=using)
