"""Every list page and the model page run the same number of SQL queries at 10 and at 1,000 rows.

The rows are made with bulk_create straight on the models: building 1,000 models, versions and
datasets through the services (each one audited, validated and locked) would take minutes, and
what is measured here is only how the pages read, not how rows are written.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry.models import Dataset, ModelVersion, RegisteredModel, Stage, Tag, UseCase

pytestmark = pytest.mark.django_db

STAGES = [Stage.DEVELOPMENT, Stage.QA, Stage.PREPRODUCTION, Stage.ARCHIVED]


def grow(owner, *, start: int, stop: int, main_model: RegisteredModel):
    """Rows start..stop-1 of each kind; versions of `main_model` are linked to the new datasets."""
    tag, _ = Tag.objects.get_or_create(name="bulk")
    use_cases = UseCase.objects.bulk_create(UseCase(name=f"uc-{i}", owner=owner) for i in range(start, stop))
    datasets = Dataset.objects.bulk_create(
        Dataset(name=f"ds-{i}", version="1", owner=owner) for i in range(start, stop)
    )
    models = RegisteredModel.objects.bulk_create(
        RegisteredModel(name=f"m-{i}", owner=owner, use_case=uc) for i, uc in zip(range(start, stop), use_cases, strict=True)
    )
    RegisteredModel.tags.through.objects.bulk_create(
        RegisteredModel.tags.through(registeredmodel_id=m.pk, tag_id=tag.pk) for m in models
    )
    versions = ModelVersion.objects.bulk_create(
        ModelVersion(model=m, number=1, sha256="0" * 64, created_by=owner, stage=STAGES[i % 4])
        for i, m in enumerate(models)
    )
    main_versions = ModelVersion.objects.bulk_create(
        ModelVersion(model=main_model, number=i + 1, sha256="1" * 64, created_by=owner, stage=STAGES[i % 4])
        for i in range(start, stop)
    )
    ModelVersion.training_datasets.through.objects.bulk_create(
        ModelVersion.training_datasets.through(modelversion_id=v.pk, dataset_id=d.pk)
        for v, d in zip(versions + main_versions, datasets + datasets, strict=True)
    )
    ModelVersion.tags.through.objects.bulk_create(
        ModelVersion.tags.through(modelversion_id=v.pk, tag_id=tag.pk) for v in main_versions
    )


PAGES = [
    ("portal:dashboard", []),
    ("portal:inventory", []),
    ("portal:datasets", []),
    ("portal:use-cases", []),
    ("portal:signoffs", []),
    ("portal:model", ["main"]),
]


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_pages_run_the_same_queries_at_10_and_1000_rows(browse, cast):
    dana = cast["dana"]
    main_uc = UseCase.objects.create(name="main", owner=dana)
    main = RegisteredModel.objects.create(name="main", owner=dana, use_case=main_uc)
    client = browse("dana")
    urls = [reverse(name, args=args) for name, args in PAGES]

    grow(dana, start=0, stop=10, main_model=main)
    small = {url: count_queries(client, url) for url in urls}
    grow(dana, start=10, stop=1000, main_model=main)
    large = {url: count_queries(client, url) for url in urls}

    assert large == small
    assert RegisteredModel.objects.count() == 1001
    # Bounded in absolute terms too: session, user, roles and a handful of reads per page.
    # The dashboard is the largest: counts, tiers, roles, one query per attention provider (six),
    # the feed, the open alerts.
    assert max(small.values()) <= 20, small
