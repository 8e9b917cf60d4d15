from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models.expressions import Col
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.permissions import SAFE_METHODS

from . import db
from .models import ApiToken
from .roles import Role, is_read_only
from .throttling import BadTokenThrottle


class ReadOnlyToken(exceptions.PermissionDenied):
    default_detail = "This API token is read-only (scope: read); it cannot change anything."
    default_code = "read_only_token"


def _token_sql() -> tuple[str, list[str]]:
    """One statement for the token, its user and the user's group names (a row per group).

    Written by hand because every API request runs it: the ORM took longer to build the query
    than the database to answer it."""
    User = get_user_model()
    user_fields = [f for f in User._meta.concrete_fields]
    memberships = User.groups.through._meta.db_table
    q = connection.ops.quote_name
    columns = ", ".join(f"u.{q(f.column)}" for f in user_fields)
    sql = (
        f"SELECT t.{q('id')}, t.{q('last_used_at')}, t.{q('scope')}, g.{q('name')}, {columns} "
        f"FROM {q(ApiToken._meta.db_table)} t "
        f"JOIN {q(User._meta.db_table)} u ON u.{q(User._meta.pk.column)} = t.{q('user_id')} "
        f"LEFT JOIN {q(memberships)} m ON m.{q('user_id')} = u.{q(User._meta.pk.column)} "
        f"LEFT JOIN {q(Group._meta.db_table)} g ON g.{q('id')} = m.{q('group_id')} "
        f"WHERE t.{q('key_hash')} = %s AND t.{q('revoked_at')} IS NULL"
    )
    return sql, [f.attname for f in user_fields]


def _from_db(field, value):
    """What the ORM would have made of a column's value (the backend's and the field's converters,
    as the SQL compiler applies them: e.g. SQLite's datetimes and booleans)."""
    col = Col(field.model._meta.db_table, field)
    for convert in connection.ops.get_db_converters(col) + col.get_db_converters(connection):
        value = convert(value, col, connection)
    return value


def user_for_token(key: str):
    """(user, token) for an unrevoked token, in one query, the user's roles already cached (see
    `core.roles.user_roles`); (None, None) when the key is unknown or revoked."""
    sql, attnames = _token_sql()
    rows = db.rows(sql, [ApiToken.hash_key(key)])
    if not rows:
        return None, None
    token_id = rows[0][0]
    last_used_at = _from_db(ApiToken._meta.get_field("last_used_at"), rows[0][1])
    user_values = [_from_db(field, value) for field, value in
                   zip(get_user_model()._meta.concrete_fields, rows[0][4:], strict=True)]
    user = get_user_model().from_db(connection.alias, attnames, user_values)
    roles = {row[3] for row in rows if row[3]} & set(Role.values)
    if user.is_superuser:
        roles.add(Role.ADMIN)
    user._steward_roles = roles
    # The scope decides what the token may do (read tokens only read): always from the row.
    token = ApiToken(pk=token_id, user=user, last_used_at=last_used_at, scope=rows[0][2])
    token._state.adding = False
    now = timezone.now()
    # Write at most once a minute per token: a busy script should not hammer this row.
    if last_used_at is None or (now - last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token_id).update(last_used_at=now)
    return user, token


def token_may_write(token) -> bool:
    """The scope rule: only `write` tokens change anything."""
    return token.scope == ApiToken.Scope.WRITE


def scope_check(request, user, token) -> None:
    """A token's scope, enforced where every token request passes (the API's token auth and the
    MLflow protocol's bearer/basic auth alike): a read token, or any token of a read-only user,
    gets 403 for every method but GET, HEAD and OPTIONS."""
    if token is None or request.method in SAFE_METHODS:
        return
    if is_read_only(user):  # what the permission funnel says to auditors, said earlier
        refused = exceptions.PermissionDenied("Auditors have read-only access.")
    elif not token_may_write(token):
        refused = ReadOnlyToken()
    else:
        return
    # DRF forgets the user when authentication raises; the refusal is still theirs to be audited
    # (core.api's exception handler reads it).
    refused.actor = user
    raise refused


class HashedTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, looked up by the key's SHA-256.

    The token's scope is enforced here, where every token request passes whatever view and
    permission classes it reaches: a read token (or any token of a read-only user) gets 403 for
    every method but GET, HEAD and OPTIONS.
    """

    keyword = "Token"
    # The MLflow protocol reads through POST too; its permission class checks the scope instead.
    check_scope = True

    def authenticate(self, request):
        try:
            result = super().authenticate(request)
        except exceptions.AuthenticationFailed:
            throttle = BadTokenThrottle()
            if not throttle.allow_request(request, None):
                raise exceptions.Throttled(wait=throttle.wait()) from None
            raise
        if result is not None and self.check_scope:
            scope_check(request, *result)
        return result

    def authenticate_credentials(self, key):
        user, token = user_for_token(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return user, token
