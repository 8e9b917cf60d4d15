"""The API's permission funnel: one class gates every endpoint by role; object rules live in each
app's `access.py` and are called from here through `has_object_permission` hooks on the view."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from .roles import is_read_only, is_steward_user


class IsStewardUser(BasePermission):
    """Authenticated users with a role may read; auditors (read-only) may not write.

    Views may define `check_object_write(user, obj)` → bool for object-level write rules.
    """

    message = "You do not have permission to perform this action."

    def has_permission(self, request, view):
        user = request.user
        if not is_steward_user(user):
            return False
        if request.method in SAFE_METHODS:
            return True
        if is_read_only(user):
            self.message = "Auditors have read-only access."
            return False
        return True

    def has_object_permission(self, request, view, obj):
        if request.method in SAFE_METHODS:
            return True
        check = getattr(view, "check_object_write", None)
        if check is None:
            return True
        allowed = check(request.user, obj)
        if not allowed:
            self.message = getattr(view, "object_write_denied_message", self.message)
        return allowed
