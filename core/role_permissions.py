"""Django permissions of the role groups, kept in step with the models after every migrate.

The admin console shows a model to whoever holds its `view_*` permission. Auditors, risk
officers and administrators see every model of Steward's apps (and users and groups, to see who
holds which role) and change none: this handler grants them all `view_*` permissions of those
apps and removes any add/change/delete permission on them, so a model another app adds later is
covered at the next `migrate`. The same three groups may export the audit trail; auditors and
administrators alone see sign-ins and IP addresses in it (`audit.selectors.events_visible_to`).

Writes belong to the services (which audit them), so the role groups hold no write permission in
the admin; grant an exceptional right to a user, not to a role group.
"""

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS

from .roles import Role

OUR_APPS = ["audit", "core", "registry", "governance", "abtests", "monitoring", "privacy"]
VIEW_ONLY_ROLES = [Role.AUDITOR, Role.RISK_OFFICER, Role.ADMIN]
EXPORT_ROLES = [Role.AUDITOR, Role.RISK_OFFICER, Role.ADMIN]
SENSITIVE_AUDIT_ROLES = [Role.AUDITOR, Role.ADMIN]
_AUDIT_RIGHTS = ["export_auditevent", "see_sensitive_auditevent"]
_EXTRA_VIEW = [("auth", "view_user"), ("auth", "view_group")]


def sync_role_permissions(*, apps, using: str = DEFAULT_DB_ALIAS) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.using(using).filter(content_type__app_label__in=OUR_APPS)
    view = list(ours.filter(codename__startswith="view_"))
    for app_label, codename in _EXTRA_VIEW:
        view += list(Permission.objects.using(using).filter(content_type__app_label=app_label, codename=codename))
    write = list(ours.exclude(codename__startswith="view_").exclude(codename__in=_AUDIT_RIGHTS))
    export = list(ours.filter(content_type__app_label="audit", codename="export_auditevent"))
    sensitive = list(ours.filter(content_type__app_label="audit", codename="see_sensitive_auditevent"))
    for role in dict.fromkeys(VIEW_ONLY_ROLES + EXPORT_ROLES + SENSITIVE_AUDIT_ROLES):
        group, _ = Group.objects.using(using).get_or_create(name=str(role))
        if role in VIEW_ONLY_ROLES:
            group.permissions.add(*view)
            group.permissions.remove(*write)
        if role in EXPORT_ROLES:
            group.permissions.add(*export)
        if role in SENSITIVE_AUDIT_ROLES:
            group.permissions.add(*sensitive)
        else:
            group.permissions.remove(*sensitive)


def post_migrate_sync(sender, app_config=None, apps=None, using=DEFAULT_DB_ALIAS, **kwargs):
    """`post_migrate` is sent once per app, after auth created that app's permissions; each call
    grants whatever exists by then, so the last one sees every model."""
    apps = apps or global_apps
    try:
        apps.get_model("auth", "Permission")
    except LookupError:  # a partial migrate that has not reached auth yet
        return
    sync_role_permissions(apps=apps, using=using)
