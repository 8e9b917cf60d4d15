#!/bin/sh
# Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d, see
# docker-compose.yml): Steward's two database roles and its database. docs/operations.md,
# "Database roles": the owner migrates and owns every table; the app role is what web, worker
# and beat log in as, and `migrate` grants it what it needs (audit/dbroles.py).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v owner_password="$STEWARD_DB_OWNER_PASSWORD" -v app_password="$STEWARD_DB_APP_PASSWORD" <<'SQL'
CREATE ROLE steward_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE steward_app LOGIN PASSWORD :'app_password';
CREATE DATABASE steward OWNER steward_owner;
SQL
