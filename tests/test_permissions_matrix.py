"""The permissions matrix: every API route and every portal page and form POST, for each role,
on the caller's own object and on someone else's → the expected status. One file on purpose (over
400 lines): the matrix is one table, read and reviewed as a whole.

Routes come from the URL configuration, so a route without an entry in `MATRIX` fails
`test_every_route_has_an_entry`. Adding one is one line::

    ("api:thing-detail", "PATCH"): "401 403 200|403 200 403 200",

The six statuses are for: anonymous, signed in without a role, data scientist (dana),
risk officer (rita), auditor (audrey), admin (root). `a|b` means "a on the caller's own object,
b on someone else's" — for the data scientist, whose own objects are dana's; the other roles own
nothing here and act on sam's objects. A request's payload is valid for the route (see
`PAYLOADS`), so an allowed caller gets 2xx (or a conflict with stored data) and a refused one
401/403/302. Every request runs in a savepoint that is rolled back, so requests do not see each
other's writes. Set `STEWARD_MATRIX_PRINT=1` to print the observed table.
"""

import hashlib
import os
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

ROLES = ["anon", "nobody", "dana", "rita", "audrey", "root"]
LOW = {
    "regulation": "none", "personal_data": "no", "consumers": "one_team", "availability": "ad_hoc",
    "error_impact": "low", "release_cadence": "rare", "lifetime": "short", "decay": "slow", "explainability": "none",
}

# fmt: off
MATRIX = {
    # --- API: inventory ------------------------------------------------------------------------
    ("api:api-root", "GET"): "401 403 200 200 200 200",
    # A signed-in user without a role may see who they are and manage their own tokens.
    ("api:me", "GET"): "401 200 200 200 200 200",
    ("api:use-case-list", "GET"): "401 403 200 200 200 200",
    ("api:use-case-list", "POST"): "401 403 201 201 403 201",
    ("api:use-case-detail", "GET"): "401 403 200 200 200 200",
    ("api:use-case-detail", "PATCH"): "401 403 200|403 200 403 200",
    ("api:use-case-detail", "PUT"): "401 403 200|403 200 403 200",
    ("api:use-case-detail", "DELETE"): "401 403 409|403 409 403 409",
    ("api:dataset-list", "GET"): "401 403 200 200 200 200",
    ("api:dataset-list", "POST"): "401 403 201 403 403 201",
    ("api:dataset-detail", "GET"): "401 403 200 200 200 200",
    ("api:dataset-detail", "PATCH"): "401 403 200|403 403 403 200",
    ("api:dataset-detail", "PUT"): "401 403 200|403 403 403 200",
    ("api:dataset-detail", "DELETE"): "401 403 409|403 403 403 409",
    ("api:model-list", "GET"): "401 403 200 200 200 200",
    ("api:model-list", "POST"): "401 403 201|403 403 403 201",
    ("api:model-detail", "GET"): "401 403 200 200 200 200",
    ("api:model-detail", "PATCH"): "401 403 200|403 403 403 200",
    ("api:model-detail", "PUT"): "401 403 200|403 403 403 200",
    ("api:model-detail", "DELETE"): "401 403 409|403 403 403 409",
    ("api:version-list", "GET"): "401 403 200 200 200 200",
    ("api:version-list", "POST"): "401 403 201|403 403 403 201",
    ("api:version-detail", "GET"): "401 403 200 200 200 200",
    ("api:version-detail", "PATCH"): "401 403 200|403 403 403 200",
    ("api:version-detail", "PUT"): "401 403 200|403 403 403 200",
    ("api:version-artifact", "GET"): "401 403 200 200 200 200",
    ("api:token-list", "GET"): "401 200 200 200 200 200",
    ("api:token-list", "POST"): "401 201 201 201 201 201",
    ("api:token-revoke", "POST"): "401 404 200|404 404 404 404",
    ("api:job-list", "GET"): "401 403 200 200 200 200",
    ("api:job-detail", "GET"): "401 403 200 200 200 200",
    # --- API: governance ------------------------------------------------------------------------
    ("api:questionnaire", "GET"): "401 403 200 200 200 200",
    ("api:questionnaire", "PUT"): "401 403 403 200 403 200",
    ("api:policy", "GET"): "401 403 200 200 200 200",
    ("api:policy", "PUT"): "401 403 403 200 403 200",
    ("api:policy-version-list", "GET"): "401 403 200 200 200 200",
    ("api:policy-version-detail", "GET"): "401 403 200 200 200 200",
    ("api:use-case-classification", "GET"): "401 403 200 200 200 200",
    # The owner's lower tier is a proposal (202); a risk officer's applies (200).
    ("api:use-case-classification", "PUT"): "401 403 202|403 200 403 202",
    ("api:use-case-raci", "GET"): "401 403 200 200 200 200",
    ("api:use-case-raci", "PUT"): "401 403 200|403 200 403 200",
    ("api:version-card", "GET"): "401 403 200 200 200 200",
    ("api:version-card", "PUT"): "401 403 200|403 403 403 200",
    ("api:version-card-md", "GET"): "401 403 200 200 200 200",
    ("api:promotion-list", "GET"): "401 403 200 200 200 200",
    ("api:promotion-list", "POST"): "401 403 201|403 403 403 201",
    ("api:promotion-detail", "GET"): "401 403 200 200 200 200",
    # Own request: separation of duties; auditors and the role-less never sign.
    ("api:promotion-approve", "POST"): "401 403 403|200 200 403 200",
    ("api:promotion-reject", "POST"): "401 403 403|200 200 403 200",
    ("api:promotion-withdraw", "POST"): "401 403 200|403 403 403 200",
    ("api:promotion-complete", "POST"): "401 403 409|403 409 403 409",
    ("api:review-list", "GET"): "401 403 200 200 200 200",
    ("api:review-detail", "GET"): "401 403 200 200 200 200",
    ("api:review-complete", "POST"): "401 403 403 200 403 200",
    ("api:proposal-list", "GET"): "401 403 200 200 200 200",
    ("api:proposal-detail", "GET"): "401 403 200 200 200 200",
    ("api:proposal-confirm", "POST"): "401 403 403 200 403 403",
    ("api:proposal-reject", "POST"): "401 403 403 200 403 403",
    ("api:proposal-withdraw", "POST"): "401 403 200|403 403 403 403",
    ("api:gate-exception-list", "GET"): "401 403 200 200 200 200",
    ("api:gate-exception-list", "POST"): "401 403 403 201 403 403",
    ("api:gate-exception-detail", "GET"): "401 403 200 200 200 200",
    ("api:gate-exception-revoke", "POST"): "401 403 403 200 403 403",
    # --- API: privacy (docs/privacy.md) -----------------------------------------------------------
    ("api:dataset-lineage", "GET"): "401 403 200 200 200 200",
    ("api:dataset-subject-keys", "GET"): "401 403 200 200 200 200",
    # Only the dataset's owner (or an admin) uploads its key index.
    ("api:dataset-subject-keys", "POST"): "401 403 201|403 403 403 201",
    ("api:subject-request-list", "GET"): "401 403 200 200 200 200",
    # Risk officers and admins record data-subject requests; the governed do not.
    ("api:subject-request-list", "POST"): "401 403 403 201 403 201",
    ("api:subject-request-detail", "GET"): "401 403 200 200 200 200",
    ("api:obligation-list", "GET"): "401 403 200 200 200 200",
    ("api:obligation-detail", "GET"): "401 403 200 200 200 200",
    # A risk acceptance: the Accountable (none here) and a risk officer; never the model's people.
    ("api:obligation-sign", "POST"): "401 403 403 200 403 403",
    # The model's data scientists, risk officers, admins may point at a retraining; v2 has no
    # training data recorded, so the service refuses it (400).
    ("api:obligation-retrained", "POST"): "401 403 400|403 400 403 400",
    # --- API: fairness (bias reports) -----------------------------------------------------------
    ("api:use-case-sensitive-attributes", "GET"): "401 403 200 200 200 200",
    # The owner may add attributes (stricter), a risk officer not owning the use case sets them.
    ("api:use-case-sensitive-attributes", "PUT"): "401 403 200|403 200 403 200",
    ("api:version-bias-reports", "GET"): "401 403 200 200 200 200",
    # Only the version's owners (and admins) ask for reports; the world's use cases name no
    # attributes yet, so an allowed request conflicts (409).
    ("api:version-bias-reports", "POST"): "401 403 409|403 403 403 409",
    ("api:bias-report", "GET"): "401 403 404 404 404 404",
    # --- API: audit -----------------------------------------------------------------------------
    ("api:audit-event-list", "GET"): "401 403 200 200 200 200",
    ("api:audit-event-detail", "GET"): "401 403 200 200 200 200",
    ("api:audit-event-export", "GET"): "401 403 403 200 200 200",
    ("api:audit-verify", "GET"): "401 403 200 200 200 200",
    ("api:audit-point-in-time", "GET"): "401 403 200 200 200 200",
    # --- API: experiments -----------------------------------------------------------------------
    ("api:experiment-list", "GET"): "401 403 200 200 200 200",
    ("api:experiment-list", "POST"): "401 403 201|403 403 403 201",
    ("api:experiment-plan", "POST"): "401 403 200 200 403 200",
    ("api:experiment-detail", "GET"): "401 403 200 200 200 200",
    ("api:experiment-detail", "PATCH"): "401 403 200|403 403 403 200",
    ("api:experiment-start", "POST"): "401 403 200|403 403 403 200",
    ("api:experiment-stop", "POST"): "401 403 409|403 403 403 409",
    ("api:experiment-events", "POST"): "401 403 400|403 403 403 400",
    ("api:experiment-analyses", "POST"): "401 403 409|403 409 403 409",
    ("api:experiment-analysis", "GET"): "401 403 404 404 404 404",
    ("api:experiment-assign", "GET"): "401 403 200 200 200 200",
    ("api:experiment-decision", "GET"): "401 403 404 404 404 404",
    ("api:experiment-decision", "POST"): "401 403 400 400 403 400",
    ("api:experiment-decision-sign", "POST"): "401 403 409 409 403 409",
    # --- portal pages and forms (anonymous callers are sent to sign in; a signed-in account
    # without a role is refused every page, as by the API: core.roles.is_steward_user) -----------
    ("portal:dashboard", "GET"): "302 403 200 200 200 200",
    ("portal:inventory", "GET"): "302 403 200 200 200 200",
    ("portal:model", "GET"): "302 403 200 200 200 200",
    ("portal:version", "GET"): "302 403 200 200 200 200",
    ("portal:version-artifact-check", "POST"): "302 403 302 302 302 302",
    ("portal:datasets", "GET"): "302 403 200 200 200 200",
    ("portal:dataset", "GET"): "302 403 200 200 200 200",
    ("portal:use-cases", "GET"): "302 403 200 200 200 200",
    ("portal:use-case", "GET"): "302 403 200 200 200 200",
    ("portal:signoffs", "GET"): "302 403 200 200 200 200",
    ("portal:promotion", "GET"): "302 403 200 200 200 200",
    # Refused form posts answer the page again with the refusal's status; accepted ones redirect.
    ("portal:promotion", "POST"): "302 403 403|302 302 403 302",
    ("portal:job", "GET"): "302 403 200 200 200 200",
    ("portal:classification", "GET"): "302 403 200 200 200 200",
    ("portal:classification", "POST"): "302 403 302|403 302 403 302",
    ("portal:classification-preview", "POST"): "302 403 200 200 200 200",
    ("portal:classification-override", "POST"): "302 403 403 302 403 302",
    ("portal:raci", "GET"): "302 403 200 200 200 200",
    ("portal:raci", "POST"): "302 403 302|403 302 403 302",
    ("portal:policies", "GET"): "302 403 200 200 200 200",
    ("portal:policy-versions", "GET"): "302 403 200 200 200 200",
    ("portal:policy-version", "GET"): "302 403 200 200 200 200",
    ("portal:policy-diff", "GET"): "302 403 200 200 200 200",
    ("portal:policy-cell", "GET"): "302 403 200 200 200 200",
    ("portal:policy-cell", "POST"): "302 403 403 302 403 302",
    ("portal:policy-intervals", "GET"): "302 403 200 200 200 200",
    ("portal:policy-intervals", "POST"): "302 403 403 302 403 302",
    ("portal:model-card", "GET"): "302 403 200 200 200 200",
    ("portal:gate-exception-grant", "POST"): "302 403 403 302 403 403",
    ("portal:proposals", "GET"): "302 403 200 200 200 200",
    ("portal:proposal", "GET"): "302 403 200 200 200 200",
    ("portal:proposal", "POST"): "302 403 403 302 403 403",
    ("portal:reviews", "GET"): "302 403 200 200 200 200",
    ("portal:review-complete", "POST"): "302 403 403 302 403 302",
    ("portal:experiments", "GET"): "302 403 200 200 200 200",
    ("portal:experiment-new", "GET"): "302 403 200 200 200 200",
    ("portal:experiment-plan", "POST"): "302 403 400 400 400 400",
    ("portal:experiment", "GET"): "302 403 200 200 200 200",
    ("portal:experiment-edit", "POST"): "302 403 400 400 400 400",
    ("portal:experiment-start", "POST"): "302 403 302 302 302 302",
    ("portal:experiment-stop", "POST"): "302 403 302 302 302 302",
    ("portal:experiment-analyse", "POST"): "302 403 302 302 302 302",
    ("portal:experiment-analysis", "GET"): "302 403 404 404 404 404",
    ("portal:experiment-decide", "POST"): "302 403 400 400 400 400",
    ("portal:experiment-sign", "POST"): "302 403 302 302 302 302",
    # Data scientists' pages: forms shown only to who may act; the services decide on POST and
    # the page redirects with their message.
    ("portal:work", "GET"): "302 403 200 200 200 200",
    ("portal:model-new", "GET"): "302 403 200 403 403 200",
    ("portal:version-new", "GET"): "302 403 200|403 403 403 200",
    ("portal:version-request", "POST"): "302 403 302 302 302 302",
    ("portal:promotion-withdraw", "POST"): "302 403 302 302 302 302",
    ("portal:experiment-events", "GET"): "302 403 200 200 200 200",
    ("portal:experiment-events", "POST"): "302 403 400|403 403 403 400",
    # Data-subject rights (docs/privacy.md): pages readable by everyone signed in; forms as the API.
    ("portal:privacy-requests", "GET"): "302 403 200 200 200 200",
    ("portal:privacy-requests", "POST"): "302 403 403 302 403 302",
    ("portal:privacy-request", "GET"): "302 403 200 200 200 200",
    ("portal:privacy-obligations", "GET"): "302 403 200 200 200 200",
    ("portal:privacy-obligation-sign", "POST"): "302 403 403 302 403 403",
    ("portal:privacy-obligation-retrained", "POST"): "302 403 400|403 400 403 400",
    ("portal:privacy-subject-keys", "POST"): "302 403 302|403 403 403 302",
    # Bias report page: everyone signed in reads; the upload is decided by the service (redirect
    # with its message); exports answer 404 while no report was computed.
    ("portal:fairness", "GET"): "302 403 200 200 200 200",
    ("portal:fairness-upload", "POST"): "302 403 302 302 302 302",
    ("portal:fairness-export-csv", "GET"): "302 403 404 404 404 404",
    ("portal:fairness-export-md", "GET"): "302 403 404 404 404 404",
    # The auditors' console: auditors, risk officers and admins.
    ("portal:audit", "GET"): "302 403 403 200 200 200",
    ("portal:audit-export", "GET"): "302 403 403 200 200 200",
    ("portal:audit-chain", "GET"): "302 403 403 200 200 200",
    ("portal:audit-event", "GET"): "302 403 403 200 200 200",
    ("portal:audit-point-in-time", "GET"): "302 403 403 200 200 200",
    # --- monitoring (monitoring/access.py): the model's people feed it; risk officers set its
    # tests and close alerts; nobody governed loosens what judges their model. No alert or check
    # exists in this world, so acting on one is 404 for whoever may reach it.
    ("api:monitoring-open-alerts", "GET"): "401 403 200 200 200 200",
    ("api:version-monitoring", "GET"): "401 403 200 200 200 200",
    ("api:version-monitoring", "PATCH"): "401 403 403 200 403 200",
    ("api:version-monitoring-reference", "GET"): "401 403 404 404 404 404",
    ("api:version-monitoring-reference", "POST"): "401 403 201|403 403 403 201",
    ("api:version-monitoring-reference", "PATCH"): "401 403 404|403 403 403 404",
    ("api:version-monitoring-batches", "GET"): "401 403 200 200 200 200",
    ("api:version-monitoring-batches", "POST"): "401 403 409|403 409 403 409",  # no reference yet
    ("api:version-monitoring-labels", "POST"): "401 403 400|403 400 403 400",
    ("api:version-monitoring-checks", "GET"): "401 403 200 200 200 200",
    ("api:version-monitoring-checks", "POST"): "401 403 409|403 409 403 409",
    ("api:version-monitoring-check", "GET"): "401 403 404 404 404 404",
    ("api:version-monitoring-alerts", "GET"): "401 403 200 200 200 200",
    ("api:version-monitoring-alert-acknowledge", "POST"): "401 403 404 404 403 404",
    ("api:version-monitoring-alert-close", "POST"): "401 403 404 404 403 404",
    ("portal:version-monitoring", "GET"): "302 403 200 200 200 200",
    ("portal:version-monitoring-check", "POST"): "302 403 302 302 302 302",
    ("portal:version-monitoring-schedule", "POST"): "302 403 302 302 302 302",
    ("portal:version-monitoring-alert", "POST"): "302 403 404 404 404 404",
    # --- MLflow's Model Registry protocol (docs/mlflow.md): MLflow's statuses and error codes
    # (401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 RESOURCE_DOES_NOT_EXIST, 409
    # RESOURCE_CONFLICT), success is 200 with a JSON object. Reads are open to every role
    # (`get-latest-versions` reads through POST too); writes follow registry.access: the model's
    # data scientists and admins.
    ("mlflow:registered-models/create", "POST"): "401 403 200|403 403 403 200",
    ("mlflow:registered-models/rename", "POST"): "401 403 200|403 403 403 200",
    ("mlflow:registered-models/update", "PATCH"): "401 403 200|403 403 403 200",
    # A model with versions is not deleted (governance keeps its record): a conflict.
    ("mlflow:registered-models/delete", "DELETE"): "401 403 409|403 403 403 409",
    ("mlflow:registered-models/get", "GET"): "401 403 200 200 200 200",
    ("mlflow:registered-models/search", "GET"): "401 403 200 200 200 200",
    ("mlflow:registered-models/get-latest-versions", "GET"): "401 403 200 200 200 200",
    ("mlflow:registered-models/get-latest-versions", "POST"): "401 403 200 200 200 200",
    ("mlflow:registered-models/set-tag", "POST"): "401 403 200|403 403 403 200",
    ("mlflow:registered-models/delete-tag", "DELETE"): "401 403 200|403 403 403 200",
    ("mlflow:registered-models/alias", "GET"): "401 403 200 200 200 200",
    ("mlflow:registered-models/alias", "POST"): "401 403 200|403 403 403 200",
    ("mlflow:registered-models/alias", "DELETE"): "401 403 200|403 403 403 200",
    ("mlflow:model-versions/create", "POST"): "401 403 200|403 403 403 200",
    ("mlflow:model-versions/update", "PATCH"): "401 403 200|403 403 403 200",
    # A governed move: the model's people get the open promotion request named (403
    # PERMISSION_DENIED, its gates unmet); the others are refused before that.
    ("mlflow:model-versions/transition-stage", "POST"): "401 403 403 403 403 403",
    # v2 is an experiment's challenger: kept (409) for whoever may delete it.
    ("mlflow:model-versions/delete", "DELETE"): "401 403 409|403 403 403 409",
    ("mlflow:model-versions/get", "GET"): "401 403 200 200 200 200",
    ("mlflow:model-versions/search", "GET"): "401 403 200 200 200 200",
    ("mlflow:model-versions/get-download-uri", "GET"): "401 403 200 200 200 200",
    ("mlflow:model-versions/set-tag", "POST"): "401 403 200|403 403 403 200",
    ("mlflow:model-versions/delete-tag", "DELETE"): "401 403 200|403 403 403 200",
    # The artifact proxy: uploads by whoever registers models; downloads and listings for all.
    ("mlflow:artifacts-list", "GET"): "401 403 200 200 200 200",
    ("mlflow:artifacts", "GET"): "401 403 200 200 200 200",
    ("mlflow:artifacts", "PUT"): "401 403 200 403 403 200",
}
# fmt: on

# Uploads sent as multipart/form-data (the rest of the API takes JSON).
MULTIPART = {
    ("api:version-monitoring-reference", "POST"), ("api:version-monitoring-batches", "POST"),
    ("api:version-monitoring-labels", "POST"), ("api:dataset-subject-keys", "POST"),
    ("portal:privacy-subject-keys", "POST"),
}

# Routes outside the matrix: Django's admin (its own permission tests), sign-in, health, schema.
EXCLUDED_NAMESPACES = {"admin"}
# MLflow's error code for each refusal status (its protocol's `databricks_pb2` codes as the
# client reads them; RESOURCE_ALREADY_EXISTS is a 400 too).
MLFLOW_CODES = {400: {"INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS"}, 401: {"UNAUTHENTICATED"},
                403: {"PERMISSION_DENIED"}, 404: {"RESOURCE_DOES_NOT_EXIST", "ENDPOINT_NOT_FOUND"},
                409: {"RESOURCE_CONFLICT"}}
EXCLUDED_ROUTES = {"login", "logout", "healthz", "schema", "api-docs"}


def routes() -> dict[str, list[str]]:
    """{namespace:name: [HTTP methods]} from the URL configuration (methods only where they
    can be read: DRF viewset actions and class-based views; function views list [])."""
    found: dict[str, list[str]] = {}

    def walk(resolver, namespace=None):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                walk(entry, entry.namespace or namespace)
            elif isinstance(entry, URLPattern) and entry.name:
                if namespace in EXCLUDED_NAMESPACES or entry.name in EXCLUDED_ROUTES:
                    continue
                callback = entry.callback
                actions = getattr(callback, "actions", None)
                view_class = getattr(callback, "view_class", None)
                if actions:
                    # DRF adds `head` to a viewset's actions once it has served a GET.
                    methods = [m.upper() for m in actions if m not in ("head", "options")]
                elif view_class is not None:
                    methods = [m.upper() for m in ("get", "post", "put", "patch", "delete")
                               if hasattr(view_class, m) and m in view_class.http_method_names]
                else:
                    methods = []
                found.setdefault(f"{namespace}:{entry.name}", [])
                found[f"{namespace}:{entry.name}"] = sorted(set(found[f"{namespace}:{entry.name}"]) | set(methods))

    walk(get_resolver())
    return found


def test_every_route_has_an_entry():
    missing = []
    for name, methods in routes().items():
        if methods:
            missing += [f"{name} {m}" for m in methods if (name, m) not in MATRIX]
        elif not any(key[0] == name for key in MATRIX):
            missing.append(f"{name} (GET and/or POST)")
    known = routes()
    stale = sorted(f"{n} {m}" for (n, m) in MATRIX if n not in known)
    assert not missing, "Routes without an entry in MATRIX (add one line each):\n" + "\n".join(missing)
    assert not stale, "Entries for routes that no longer exist:\n" + "\n".join(stale)


# --- the world -------------------------------------------------------------------------------


@pytest.fixture
def world(cast):
    """dana's and sam's objects (use case, dataset, model, version, promotion, proposal, token,
    experiment), built through the services; a review and an exception on each version."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from abtests import lifecycle as ab
    from core.models import ApiToken, BackgroundJob
    from core.services import token_create
    from governance.classification import classification_submit
    from governance.gate_exceptions import gate_exception_grant
    from governance.models import Review
    from governance.promotions import promotion_request
    from governance.selectors import policy_current, scheme_current
    from registry import services as reg

    def sha(s):
        return hashlib.sha256(s.encode()).hexdigest()

    objs = {}
    for who in ("dana", "sam"):
        user = cast[who]
        uc = reg.use_case_create(actor=user, name=f"{who} use case")
        ds = reg.dataset_create(actor=user, name=f"{who}-data", version="1", source_uri="s3://d", sha256=sha(who))
        model = reg.model_create(actor=user, name=f"{who}-model", use_case=uc)
        v1 = reg.model_version_register(actor=user, model=model, artifact=SimpleUploadedFile("m.bin", who.encode()),
                                        training_datasets=[ds], code_commit="abc1234")
        v2 = reg.model_version_register(actor=user, model=model, artifact_uri="s3://v2", sha256=sha(who + "2"))
        classification_submit(actor=cast["omar"], use_case=uc, answers={**LOW, "regulation": "regional", "consumers": "public"})
        promotion = promotion_request(actor=user, version=v1, target_stage="qa")
        fresh = reg.use_case_create(actor=user, name=f"{who} new use case")
        proposal = classification_submit(actor=user, use_case=fresh, answers=LOW)
        review = Review.objects.create(version=v1, due_date=timezone.localdate())
        exception = gate_exception_grant(actor=cast["omar"], gate="code_commit", version=v2, justification="x",
                                         expires_at=timezone.now() + timedelta(days=3))
        from privacy import services as privacy

        erasure = privacy.subject_request_create(actor=cast["omar"], kind="erasure", datasets=[ds])
        token, _ = token_create(user=user, actor=user, name="t")
        exp = ab.experiment_create(actor=user, model=model, champion=v1, challengers=[v2], name=f"{who} exp", test="welch_t",
                                   kind="ab", metric_name="revenue", metric_type="continuous", sd=1.0, mde=0.5, baseline=10.0,
                                   daily_units=100.0)
        from mlflow_api import services as mlflow

        mlflow.model_tag_set(actor=user, model=model, key="team", value=who)
        mlflow.version_tag_set(actor=user, version=v1, key="run", value="1")
        mlflow.alias_set(actor=user, model=model, alias="candidate", version=v2)
        objs[who] = dict(use_case=uc, dataset=ds, model=model, v1=v1, v2=v2, promotion=promotion, proposal=proposal,
                         review=review, exception=exception, token=token, experiment=exp,
                         erasure=erasure, obligation=erasure.obligations.get(),
                         job=BackgroundJob.objects.filter(object_id=str(v1.pk)).first())
    assert ApiToken.objects.exists()
    objs["policy"] = policy_current()
    objs["scheme"] = scheme_current()
    return objs


def target(world, route: str, method: str, owner: str):
    """(url, payload) for a route on `owner`'s objects."""
    o = world[owner]
    m, v1, uc = o["model"].name, o["v1"].number, o["use_case"].pk
    future = (timezone.now() + timedelta(days=2)).isoformat()
    from audit.models import AuditEvent

    kw = {
        "api:use-case-detail": {"pk": uc}, "api:dataset-detail": {"pk": o["dataset"].pk},
        "api:model-detail": {"name": m}, "api:version-list": {"name": m},
        "api:version-detail": {"name": m, "number": v1}, "api:version-artifact": {"name": m, "number": v1},
        "api:version-card": {"name": m, "number": v1}, "api:version-card-md": {"name": m, "number": v1},
        "api:use-case-classification": {"pk": uc}, "api:use-case-raci": {"pk": uc},
        "api:use-case-sensitive-attributes": {"pk": uc}, "api:version-bias-reports": {"name": m, "number": v1},
        "api:bias-report": {"pk": 999999},
        "portal:fairness": {"name": m, "number": v1}, "portal:fairness-upload": {"name": m, "number": v1},
        "portal:fairness-export-csv": {"name": m, "number": v1}, "portal:fairness-export-md": {"name": m, "number": v1},
        "api:promotion-detail": {"pk": o["promotion"].pk}, "api:promotion-approve": {"pk": o["promotion"].pk},
        "api:promotion-reject": {"pk": o["promotion"].pk}, "api:promotion-withdraw": {"pk": o["promotion"].pk},
        "api:promotion-complete": {"pk": o["promotion"].pk},
        "api:review-detail": {"pk": o["review"].pk}, "api:review-complete": {"pk": o["review"].pk},
        "api:proposal-detail": {"pk": o["proposal"].pk}, "api:proposal-confirm": {"pk": o["proposal"].pk},
        "api:proposal-reject": {"pk": o["proposal"].pk}, "api:proposal-withdraw": {"pk": o["proposal"].pk},
        "api:gate-exception-detail": {"pk": o["exception"].pk}, "api:gate-exception-revoke": {"pk": o["exception"].pk},
        "api:token-revoke": {"pk": o["token"].pk}, "api:job-detail": {"pk": o["job"].pk},
        "api:policy-version-detail": {"number": world["policy"].number},
        # An event every role may see (sign-ins are for auditors and admins only).
        "api:audit-event-detail": {"pk": AuditEvent.objects.filter(action="use_case.create").order_by("seq").first().pk},
        "portal:model": {"name": m}, "portal:version": {"name": m, "number": v1},
        "portal:version-artifact-check": {"name": m, "number": v1}, "portal:dataset": {"pk": o["dataset"].pk},
        "portal:use-case": {"pk": uc}, "portal:promotion": {"pk": o["promotion"].pk}, "portal:job": {"pk": o["job"].pk},
        "portal:classification": {"pk": uc}, "portal:classification-preview": {"pk": uc},
        "portal:classification-override": {"pk": uc}, "portal:raci": {"pk": uc},
        "portal:policy-version": {"number": world["policy"].number}, "portal:policy-cell": {"tier": 1, "consideration": "sign_off"},
        "portal:model-card": {"name": m, "number": v1}, "portal:gate-exception-grant": {"name": m, "number": v1},
        "portal:proposal": {"pk": o["proposal"].pk}, "portal:review-complete": {"pk": o["review"].pk},
        "portal:version-new": {"name": m}, "portal:version-request": {"name": m, "number": v1},
        "portal:promotion-withdraw": {"pk": o["promotion"].pk},
        "portal:audit-event": {"seq": AuditEvent.objects.filter(action="use_case.create").order_by("seq").first().seq},
        "api:dataset-lineage": {"pk": o["dataset"].pk}, "api:dataset-subject-keys": {"pk": o["dataset"].pk},
        "api:subject-request-detail": {"pk": o["erasure"].pk}, "api:obligation-detail": {"pk": o["obligation"].pk},
        "api:obligation-sign": {"pk": o["obligation"].pk}, "api:obligation-retrained": {"pk": o["obligation"].pk},
        "portal:privacy-request": {"pk": o["erasure"].pk}, "portal:privacy-obligation-sign": {"pk": o["obligation"].pk},
        "portal:privacy-obligation-retrained": {"pk": o["obligation"].pk}, "portal:privacy-subject-keys": {"pk": o["dataset"].pk},
    }
    exp = o["experiment"].pk
    for name in ("detail", "start", "stop", "events", "analyses", "assign", "decision", "decision-sign"):
        kw[f"api:experiment-{name}"] = {"pk": exp}
    kw["api:experiment-analysis"] = {"pk": exp, "analysis_id": 999999}
    for name in ("", "-edit", "-start", "-stop", "-analyse", "-decide", "-sign"):
        kw[f"portal:experiment{name}"] = {"pk": exp}
    kw["portal:experiment-analysis"] = {"pk": exp, "analysis_id": 999999}
    kw["portal:experiment-events"] = {"pk": exp}
    for name in routes():
        if name.startswith(("api:version-monitoring", "portal:version-monitoring")):
            kw[name] = {"name": m, "number": v1}
    kw["api:version-monitoring-check"] = {"name": m, "number": v1, "check_id": 999999}
    for name in ("api:version-monitoring-alert-acknowledge", "api:version-monitoring-alert-close"):
        kw[name] = {"name": m, "number": v1, "alert_id": 999999}
    kw["portal:version-monitoring-alert"] = {"name": m, "number": v1, "alert_id": 999999, "action": "acknowledge"}
    if route == "mlflow:artifacts":
        kw[route] = {"path": f"steward/{m}/{v1}" if method == "GET" else f"{owner}/run-1/model.bin"}
    url = reverse(route, kwargs=kw.get(route, {}))
    payloads = {
        ("api:use-case-list", "POST"): {"name": f"{owner} another"},
        ("api:use-case-detail", "PATCH"): {"purpose": "clarified"},
        ("api:use-case-detail", "PUT"): {"name": o["use_case"].name, "purpose": "clarified"},
        ("api:dataset-list", "POST"): {"name": f"{owner}-more", "version": "1"},
        ("api:dataset-detail", "PATCH"): {"description": "better words"},
        ("api:dataset-detail", "PUT"): {"name": o["dataset"].name, "version": "1", "description": "x", "source_uri": "s3://d",
                                        "sha256": o["dataset"].sha256},
        ("api:model-list", "POST"): {"name": f"{owner}-another", "use_case": uc},
        ("api:model-detail", "PATCH"): {"description": "better words"},
        ("api:model-detail", "PUT"): {"name": m, "use_case": uc, "description": "x"},
        ("api:version-list", "POST"): {"artifact_uri": "s3://v3", "sha256": "3" * 64},
        ("api:version-detail", "PATCH"): {"description": "x"},
        ("api:version-detail", "PUT"): {"description": "x"},
        ("api:token-list", "POST"): {"name": "laptop"},
        ("api:questionnaire", "PUT"): world["scheme"].data,
        ("api:policy", "PUT"): {"data": world["policy"].data, "comment": "same"},
        ("api:use-case-classification", "PUT"): {"answers": LOW},
        ("api:use-case-raci", "PUT"): {"assignments": {"business_analyst": ["sam"]}},
        ("api:version-card", "PUT"): {"intended_use": "Limits"},
        ("api:use-case-sensitive-attributes", "PUT"): {"attributes": ["gender"]},
        ("api:promotion-list", "POST"): {"model": m, "version": o["v2"].number, "target_stage": "qa"},
        ("api:promotion-approve", "POST"): {"comment": "ok"},
        ("api:promotion-reject", "POST"): {"comment": "not yet"},
        ("api:review-complete", "POST"): {"comment": "fine"},
        ("api:proposal-confirm", "POST"): {"comment": "ok"},
        ("api:proposal-reject", "POST"): {"comment": "no"},
        ("api:gate-exception-list", "POST"): {"gate": "model_card", "model": m, "version": v1, "justification": "x",
                                              "expires_at": future},
        ("api:experiment-list", "POST"): {"model": m, "name": "again", "kind": "ab", "test": "welch_t", "metric_name": "r",
                                          "metric_type": "continuous", "sd": 1.0, "mde": 0.5, "baseline": 10.0,
                                          "daily_units": 100.0, "champion": v1, "challengers": [o["v2"].number]},
        ("api:experiment-plan", "POST"): {"test": "welch_t", "metric_type": "continuous", "sd": 1.0, "mde": 0.5, "baseline": 10.0},
        ("api:experiment-detail", "PATCH"): {"daily_units": 50.0},
        ("api:experiment-decision", "POST"): {"decision": "keep", "rationale": "x"},
        # Refused form posts answer the page again with the refusal's status; accepted ones redirect.
    ("portal:promotion", "POST"): {"decision": "approve", "comment": "ok", "confirmed": "yes"},
        ("portal:classification", "POST"): {f"q-{k}": v for k, v in LOW.items()},
        ("portal:classification-preview", "POST"): {f"q-{k}": v for k, v in LOW.items()},
        ("portal:classification-override", "POST"): {"tier": "4", "justification": "regulator"},
        ("portal:raci", "POST"): {"people-business_analyst": "sam"},
        ("portal:policy-cell", "POST"): {"base": str(world["policy"].number), "rows": "1", "text-0": "x", "gate-0": "approvals",
                                         "role-0": "any", "count-0": "2", "stages-0": "production"},
        ("portal:policy-intervals", "POST"): {"base": str(world["policy"].number), **{f"days-{t}": "30" for t in range(1, 5)}},
        ("portal:gate-exception-grant", "POST"): {"gate": "model_card", "justification": "x", "expires_at": future[:16]},
        ("portal:proposal", "POST"): {"decision": "confirm", "comment": "ok"},
        ("portal:review-complete", "POST"): {"note": "fine"},
        ("portal:experiment-plan", "POST"): {"test": "welch_t"},
        ("api:subject-request-list", "POST"): {"kind": "access", "subject_key": "subject-1"},
        ("api:obligation-sign", "POST"): {"statement": "Residual risk accepted"},
        ("api:obligation-retrained", "POST"): {"version": o["v2"].number},
        ("portal:privacy-requests", "POST"): {"kind": "access", "subject_key": "subject-1"},
        ("portal:privacy-obligation-sign", "POST"): {"statement": "Residual risk accepted"},
        ("portal:privacy-obligation-retrained", "POST"): {"version": str(o["v2"].number)},
    }
    v2 = str(o["v2"].number)
    payloads.update({
        ("mlflow:registered-models/create", "POST"): {
            "name": f"{owner}-mlflow-new", "tags": [{"key": "steward.use_case", "value": str(uc)}]},
        ("mlflow:registered-models/rename", "POST"): {"name": m, "new_name": f"{m}-renamed"},
        ("mlflow:registered-models/update", "PATCH"): {"name": m, "description": "better words"},
        ("mlflow:registered-models/delete", "DELETE"): {"name": m},
        ("mlflow:registered-models/get", "GET"): {"name": m},
        ("mlflow:registered-models/search", "GET"): {"filter": f"name = '{m}'"},
        ("mlflow:registered-models/get-latest-versions", "GET"): {"name": m},
        ("mlflow:registered-models/get-latest-versions", "POST"): {"name": m, "stages": ["None"]},
        ("mlflow:registered-models/set-tag", "POST"): {"name": m, "key": "team", "value": "new"},
        ("mlflow:registered-models/delete-tag", "DELETE"): {"name": m, "key": "team"},
        ("mlflow:registered-models/alias", "GET"): {"name": m, "alias": "candidate"},
        ("mlflow:registered-models/alias", "POST"): {"name": m, "alias": "candidate", "version": str(v1)},
        ("mlflow:registered-models/alias", "DELETE"): {"name": m, "alias": "candidate"},
        ("mlflow:model-versions/create", "POST"): {
            "name": m, "source": "s3://mlflow/v", "tags": [{"key": "steward.sha256", "value": "4" * 64}]},
        ("mlflow:model-versions/update", "PATCH"): {"name": m, "version": v2, "description": "x"},
        ("mlflow:model-versions/transition-stage", "POST"): {"name": m, "version": v2, "stage": "Staging"},
        ("mlflow:model-versions/delete", "DELETE"): {"name": m, "version": v2},
        ("mlflow:model-versions/get", "GET"): {"name": m, "version": str(v1)},
        ("mlflow:model-versions/search", "GET"): {"filter": f"name = '{m}'"},
        ("mlflow:model-versions/get-download-uri", "GET"): {"name": m, "version": str(v1)},
        ("mlflow:model-versions/set-tag", "POST"): {"name": m, "version": str(v1), "key": "run", "value": "2"},
        ("mlflow:model-versions/delete-tag", "DELETE"): {"name": m, "version": str(v1), "key": "run"},
        ("mlflow:artifacts-list", "GET"): {"path": f"steward/{m}/{v1}"},
    })
    # Monitoring uploads are files (multipart; see MULTIPART), fresh for each request.
    from django.core.files.uploadedfile import SimpleUploadedFile

    csv = b"x,colour\n" + b"".join(b"%d,%s\n" % (i, b"red" if i % 2 else b"blue") for i in range(40))
    window = {"window_start": (timezone.now() - timedelta(hours=1)).isoformat(), "window_end": timezone.now().isoformat()}
    payloads[("api:version-monitoring", "PATCH")] = {"drift_share": 0.9}
    payloads[("api:version-monitoring-reference", "PATCH")] = {"feature_types": {"x": "numeric"}}
    payloads[("api:version-monitoring-reference", "POST")] = {"file": SimpleUploadedFile("ref.csv", csv, "text/csv")}
    payloads[("api:version-monitoring-batches", "POST")] = {"file": SimpleUploadedFile("b.csv", csv, "text/csv"), **window}
    payloads[("api:version-monitoring-labels", "POST")] = {
        "file": SimpleUploadedFile("l.csv", b"row_id,label\nr1,1\n", "text/csv")}
    payloads[("api:dataset-subject-keys", "POST")] = {"file": SimpleUploadedFile("keys.txt", b"subject-1\nsubject-2\n")}
    payloads[("portal:privacy-subject-keys", "POST")] = {"file": SimpleUploadedFile("keys.txt", b"subject-1\nsubject-2\n")}
    if route == "portal:raci" and method == "POST":
        from governance.selectors import raci_for

        cells = raci_for(use_case=o["use_case"]).cells
        payloads[(route, method)] = {**{f"cell-{t}-{r}": v for t, row in cells.items() for r, v in row.items()},
                                     "people-business_analyst": "sam"}
    if route == "api:audit-point-in-time":
        url += "?model=dana-model&at=" + timezone.now().isoformat().replace("+", "%2B")
    if route == "api:experiment-assign":
        url += "?unit=u1"
    if route == "portal:policy-diff":
        url += f"?from={world['policy'].number}&to={world['policy'].number}"
    return url, payloads.get((route, method), {})


def expected(route, method, role, owner) -> str:
    cell = MATRIX[(route, method)].split()[ROLES.index(role)]
    own, _, other = cell.partition("|")
    return own if owner == "dana" or not other else other


def test_the_matrix(world, cast, settings):
    """Each route × method × role × owner answers the status in MATRIX."""
    # Sessions in signed cookies: no session query per page request (the matrix makes ~800).
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    api_clients, page_clients = {}, {}
    for role in ROLES:
        api_clients[role], page_clients[role] = APIClient(), Client()
        if role != "anon":
            user = cast[role]
            api_clients[role].force_authenticate(user)
            page_clients[role].force_login(user)
    mismatches, observed = [], {}
    for (route, method) in MATRIX:
        cells = []
        for role in ROLES:
            # Own and someone else's differ only for the data scientist; the others are always
            # on someone else's (sam's) objects.
            if role == "dana":
                owners = ["dana", "sam"] if "|" in MATRIX[(route, method)] or _has_object(route) else ["dana"]
            else:
                owners = ["sam"]
            got = {}
            for owner in owners:
                url, payload = target(world, route, method, owner)
                client = api_clients[role] if route.startswith(("api:", "mlflow:")) else page_clients[role]
                # Each user gets fresh role caches; the savepoint undoes the request's writes.
                for user in cast.values():
                    user.__dict__.pop("_steward_roles", None)
                if method == "GET":  # reads change nothing: no savepoint needed
                    response = client.get(url, payload)
                else:
                    with transaction.atomic():
                        if (route, method) == ("mlflow:artifacts", "PUT"):  # raw bytes, as the client sends them
                            response = client.put(url, b"weights", content_type="application/octet-stream")
                        elif route.startswith(("api:", "mlflow:")):
                            fmt = "multipart" if (route, method) in MULTIPART else "json"
                            response = getattr(client, method.lower())(url, payload, format=fmt)
                        else:
                            response = getattr(client, method.lower())(url, payload)
                        transaction.set_rollback(True)
                got[owner] = str(response.status_code)
                if route.startswith("mlflow:"):
                    mismatches += _mlflow_shape(route, method, role, owner, response)
                want = expected(route, method, role, owner if role == "dana" else "sam")
                if got[owner] != want:
                    mismatches.append(f"{route} {method} as {role} on {owner}'s: expected {want}, got {got[owner]}")
            values = list(got.values())
            cells.append(values[0] if len(set(values)) == 1 else f"{got['dana']}|{got['sam']}")
        observed[(route, method)] = " ".join(cells)
    if os.environ.get("STEWARD_MATRIX_PRINT"):
        print("\n".join(f'    ("{r}", "{m}"): "{s}",' for (r, m), s in observed.items()))
    assert not mismatches, "\n".join(mismatches)


def _mlflow_shape(route, method, role, owner, response) -> list[str]:
    """What MLflow's client accepts: success is 200 with a JSON object (a file for downloads);
    a refusal is `{"error_code", "message"}` with the code its status stands for."""
    where = f"{route} {method} as {role} on {owner}'s"
    if response.status_code == 200:
        if response.get("Content-Type", "").startswith("application/json"):
            return [] if isinstance(response.json(), dict) else [f"{where}: 200 without a JSON object"]
        return [] if (route, method) == ("mlflow:artifacts", "GET") else [f"{where}: 200 without JSON"]
    body = response.json()
    if set(body) != {"error_code", "message"} or body["error_code"] not in MLFLOW_CODES.get(response.status_code, ()):
        return [f"{where}: {response.status_code} {body} is not MLflow's error for that status"]
    return []


def _has_object(route: str) -> bool:
    return not route.endswith("-list") and route not in {
        "api:api-root", "api:me", "api:questionnaire", "api:policy", "api:audit-verify", "api:audit-point-in-time",
        "api:audit-event-export", "api:experiment-plan", "portal:dashboard", "portal:inventory", "portal:datasets",
        "portal:use-cases", "portal:signoffs", "portal:policies", "portal:policy-versions", "portal:policy-diff",
        "portal:policy-intervals", "portal:proposals", "portal:reviews", "portal:experiments", "portal:experiment-new",
        "portal:experiment-plan", "portal:policy-cell", "portal:policy-version",
    }
