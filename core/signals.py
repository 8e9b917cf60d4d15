"""Logins and failed logins go to the audit trail; a reading role opens the admin console."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from audit.services import audit_record

from .role_permissions import VIEW_ONLY_ROLES


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    audit_record(action="auth.login", actor=user, obj=user)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(action="auth.logout", actor=user, obj=user)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    audit_record(
        action="auth.login_failed",
        object_type="auth.user",
        object_id="",
        object_repr=username,
    )


@receiver(m2m_changed, sender=get_user_model().groups.through)
def _role_grants_console(sender, instance, action, reverse, pk_set, **kwargs):
    """Whoever is given a role that reads the whole trail (auditor, risk officer, admin) may sign in
    to the admin console: giving the role is enough, no "staff status" box to tick as well. Only
    granted, never taken: staff status set by hand for other reasons stays."""
    if action != "post_add" or not pk_set:
        return
    User = get_user_model()
    if reverse:  # group.user_set.add(...)
        if instance.name not in VIEW_ONLY_ROLES:
            return
        users = User.objects.filter(pk__in=pk_set, is_staff=False)
    else:  # user.groups.add(...)
        if instance.is_staff or not Group.objects.filter(pk__in=pk_set, name__in=VIEW_ONLY_ROLES).exists():
            return
        users = User.objects.filter(pk=instance.pk)
        instance.is_staff = True
    for user in users:
        User.objects.filter(pk=user.pk).update(is_staff=True)
        audit_record(action="auth.staff_grant", obj=user, changes={"is_staff": {"before": False, "after": True}})
