"""The portal's door: signed-in accounts without a role are refused every portal page, as the
API refuses them (`core.roles.is_steward_user` decides for both). Anonymous visitors are left to
`login_required`, which sends them to sign in."""

from django.shortcuts import render

from core.refusals import refusal_record
from core.roles import is_steward_user

NO_ROLE = ("Your account holds no role in Steward yet, so the portal is closed to it. "
           "Ask an administrator to give you one (data scientist, risk officer, auditor or administrator).")


class RoleRequiredMiddleware:
    """403 for a portal page (the `portal:` namespace) asked for by a signed-in user without a
    role. One place, so a new page cannot forget it. A refused write is audited as the API
    audits it (`core.api._audit_refusal`): `access.refused`, attempted "POST /path/"."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        user = getattr(request, "user", None)
        if match is None or match.namespace != "portal" or not getattr(user, "is_authenticated", False):
            return None
        if is_steward_user(user):
            return None
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            refusal_record(actor=user, attempted=f"{request.method} {request.path}", reason=NO_ROLE)
        return render(request, "portal/refused.html", {"message": NO_ROLE, "no_role": True}, status=403)
