from django.core.management import call_command

from governance.models import Classification, PromotionRequest


def test_seed_is_idempotent(db):
    call_command("seed_demo")
    call_command("seed_governance_demo")
    call_command("seed_governance_demo")
    tiers = dict(Classification.objects.values_list("use_case__name", "computed_tier"))
    assert tiers == {"Credit limit decisions": 3, "Churn outreach": 1, "Claims triage": 2}
    assert PromotionRequest.objects.get().status == "open"


def test_admin_lists_render(client, cast, tier1):
    cast["root"].is_staff = True
    cast["root"].save(update_fields=["is_staff"])
    client.force_login(cast["root"])
    for path in ("promotionrequest", "classification", "policy", "signoff", "review", "racimatrix"):
        assert client.get(f"/admin/governance/{path}/").status_code == 200
