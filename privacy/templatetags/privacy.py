"""`{% privacy_obligations model %}` — a model's data-subject obligations, for its model card."""

from django import template

from privacy.selectors import obligation_body, obligations_with_details

register = template.Library()


@register.inclusion_tag("portal/privacy/_card_obligations.html")
def privacy_obligations(model_name: str):
    rows = obligations_with_details().filter(model__name=model_name).order_by("status", "due_date", "pk")
    return {"rows": [obligation_body(o) for o in rows], "model": model_name}
