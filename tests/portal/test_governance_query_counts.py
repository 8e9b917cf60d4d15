"""Governance pages run the same number of SQL queries at 10 and at 1,000 rows.

As in test_query_counts.py, the rows are bulk-created straight on the models: what is measured is
how the pages read, not how rows are written (the services are tested elsewhere).
"""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from governance.models import Classification, Policy, PromotionRequest, Review, SignOff
from governance.raci import raci_update
from governance.selectors import policy_current, scheme_current
from registry.models import ModelVersion, RegisteredModel, Stage, UseCase

from .conftest import LOW_RISK_ANSWERS

pytestmark = pytest.mark.django_db


def page_queries(ctx) -> list[str]:
    """The queries of the page itself: not the session's read and save, not the user's, not the
    user's roles (read once per request by the portal's door, portal/middleware.py)."""
    return [
        q["sql"] for q in ctx.captured_queries
        if "django_session" not in q["sql"] and '"auth_user"' not in q["sql"][:60] and "SAVEPOINT" not in q["sql"]
        and not (q["sql"].startswith('SELECT "auth_group"."name"') and '"auth_user_groups"' in q["sql"])
    ]


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def grow(*, start, stop, owner, approver, main_uc, main_model, scheme, policy):
    """Rows start..stop-1: classified use cases, classifications and policy versions, versions of
    `main_model` with a decided promotion (and sign-off) and an open review each."""
    use_cases = UseCase.objects.bulk_create(UseCase(name=f"uc-{i}", owner=owner) for i in range(start, stop))
    Classification.objects.bulk_create(
        Classification(use_case=uc, scheme=scheme, answers=LOW_RISK_ANSWERS, score=i % 20, computed_tier=1 + i % 4, created_by=owner)
        for i, uc in zip(range(start, stop), use_cases, strict=True)
    )
    Classification.objects.bulk_create(
        Classification(use_case=main_uc, scheme=scheme, answers=LOW_RISK_ANSWERS, score=0, computed_tier=1, created_by=owner)
        for _ in range(start, stop)
    )
    Policy.objects.bulk_create(Policy(number=i + 2, data=policy.data, created_by=approver) for i in range(start, stop))
    versions = ModelVersion.objects.bulk_create(
        ModelVersion(model=main_model, number=i + 1, sha256="1" * 64, created_by=owner, stage=Stage.PRODUCTION if i == 0 else Stage.ARCHIVED)
        for i in range(start, stop)
    )
    promotions = PromotionRequest.objects.bulk_create(
        PromotionRequest(version=v, from_stage=Stage.DEVELOPMENT, target_stage=Stage.QA, requester=owner,
                         status=PromotionRequest.Status.REJECTED, policy=policy, tier=1, sha256=v.sha256, lineage_fingerprint="x")
        for v in versions
    )
    SignOff.objects.bulk_create(
        SignOff(promotion=p, approver=approver, decision=SignOff.Decision.REJECT, comment="no", sha256=p.sha256, policy=policy)
        for p in promotions
    )
    Review.objects.bulk_create(Review(version=v, due_date=datetime.date(2020, 1, 1)) for v in versions)


def test_governance_pages_run_the_same_queries_at_10_and_1000_rows(browse, cast):
    dana, rita = cast["dana"], cast["rita"]
    main_uc = UseCase.objects.create(name="main", owner=dana)
    main_model = RegisteredModel.objects.create(name="main", owner=dana, use_case=main_uc)
    scheme, policy = scheme_current(), policy_current()
    raci_update(actor=dana, use_case=main_uc, assignments={"risk_audit": ["rita"], "data_scientist": ["dana"]})
    client = browse("rita")
    urls = [
        reverse("portal:use-cases"),
        reverse("portal:use-case", args=[main_uc.pk]),
        reverse("portal:classification", args=[main_uc.pk]),
        reverse("portal:raci", args=[main_uc.pk]),
        reverse("portal:policies"),
        reverse("portal:policy-versions"),
        reverse("portal:model", args=["main"]),
        reverse("portal:model-card", args=["main", 1]),
        reverse("portal:reviews"),
        reverse("portal:dashboard"),
    ]
    kwargs = {"owner": dana, "approver": rita, "main_uc": main_uc, "main_model": main_model, "scheme": scheme, "policy": policy}

    grow(start=0, stop=10, **kwargs)
    small = {url: count_queries(client, url) for url in urls}
    grow(start=10, stop=1000, **kwargs)
    large = {url: count_queries(client, url) for url in urls}

    assert large == small
    assert Policy.objects.count() == 1001 and UseCase.objects.count() == 1001
    # The diff of two versions reads both in one query.
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("portal:policy-diff") + "?from=1&to=1000")
    assert len(page_queries(ctx)) == 1


def test_use_case_list_shows_each_tier_in_one_query(browse, cast):
    """The tier column is a subquery of the list's one query, not a query per row."""
    dana = cast["dana"]
    scheme = scheme_current()
    use_cases = UseCase.objects.bulk_create(UseCase(name=f"uc-{i}", owner=dana) for i in range(30))
    Classification.objects.bulk_create(
        Classification(use_case=uc, scheme=scheme, answers={}, score=0, computed_tier=3, override_tier=4 if i % 2 else None, created_by=dana)
        for i, uc in enumerate(use_cases)
    )
    client = browse("dana")
    with CaptureQueriesContext(connection) as ctx:
        body = client.get(reverse("portal:use-cases")).content.decode()
    # the paginator's count, the page with its tier subquery
    assert len(page_queries(ctx)) == 2
    assert body.count('<td class="num">4</td>') == 15 and body.count('<td class="num">3</td>') == 15
