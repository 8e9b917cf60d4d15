"""Template filters over `portal.labels`: `{% load words %}` then `{{ event.action|action_label }}`,
`{{ ds.contains_personal_data|personal_data:ds.legal_basis }}`, `{{ flag|yes_no }}`."""

from django import template

from portal import labels

register = template.Library()

register.filter("action_label", labels.action_label)
register.filter("stage_label", labels.stage_label)
register.filter("role_label", labels.role_label)
register.filter("yes_no", labels.yes_no)
register.filter("lawful_basis", labels.lawful_basis_label)
register.filter("personal_data", labels.personal_data_label)
register.filter("task_label", labels.task_label)
register.filter("tier_label", labels.tier_label)
register.filter("field_label", labels.field_label)


@register.filter
def approvals_needed(params):
    """`{{ item.params|approvals_needed }}` for an approvals gate's `{"role", "count"}`."""
    params = params or {}
    return labels.approvals_needed(params.get("role", "any"), params.get("count", 1))


@register.filter
def has_role(user, roles: str) -> bool:
    """`{% if user|has_role:"data_scientist,admin" %}` — for showing links, never for deciding."""
    from core.roles import has_role as _has_role

    return _has_role(user, *[r.strip() for r in roles.split(",")])
