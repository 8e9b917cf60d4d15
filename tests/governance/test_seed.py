from django.core.management import call_command

from audit.models import AuditEvent
from core.models import BackgroundJob
from governance.models import Classification, ModelCardText, PromotionRequest, RaciMatrix


def _counts():
    return {model.__name__: model.objects.count()
            for model in (Classification, RaciMatrix, PromotionRequest, ModelCardText, AuditEvent, BackgroundJob)}


def test_seed_is_idempotent(db):
    call_command("seed_demo")
    call_command("seed_governance_demo")
    first = _counts()
    call_command("seed_governance_demo")
    assert _counts() == first  # the second run changes nothing and records nothing
    tiers = list(Classification.objects.order_by("use_case__name").values_list("use_case__name", "computed_tier"))
    assert tiers == [("Churn outreach", 1), ("Claims triage", 2), ("Credit limit decisions", 3)]
    assert first["RaciMatrix"] == 1 and first["ModelCardText"] == 1
    assert PromotionRequest.objects.get().status == "open"


def test_admin_lists_render(client, cast, tier1):
    cast["root"].is_staff = True
    cast["root"].save(update_fields=["is_staff"])
    client.force_login(cast["root"])
    for path in ("promotionrequest", "classification", "policy", "signoff", "review", "racimatrix"):
        assert client.get(f"/admin/governance/{path}/").status_code == 200
