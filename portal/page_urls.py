"""The portal's pages, under the `portal:` namespace."""

from django.urls import path

from . import governance_views, views

app_name = "portal"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("inventory/", views.inventory, name="inventory"),
    path("inventory/<str:name>/", views.model_detail, name="model"),
    path("inventory/<str:name>/v/<int:number>/", views.version_detail, name="version"),
    path("inventory/<str:name>/v/<int:number>/artifact-check/", views.version_artifact_check, name="version-artifact-check"),
    path("datasets/", views.datasets, name="datasets"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset"),
    path("use-cases/", views.use_cases, name="use-cases"),
    path("use-cases/<int:pk>/", views.use_case_detail, name="use-case"),
    path("sign-offs/", views.signoffs, name="signoffs"),
    path("promotions/<int:pk>/", views.promotion_detail, name="promotion"),
    path("jobs/<int:pk>/", views.job_status, name="job"),
    # Governance: classification, RACI, policies, model card, reviews (portal/governance_views.py).
    path("use-cases/<int:pk>/classification/", governance_views.classification, name="classification"),
    path("use-cases/<int:pk>/classification/preview/", governance_views.classification_preview, name="classification-preview"),
    path("use-cases/<int:pk>/classification/override/", governance_views.classification_override, name="classification-override"),
    path("use-cases/<int:pk>/raci/", governance_views.raci, name="raci"),
    path("policies/", governance_views.policies, name="policies"),
    path("policies/versions/", governance_views.policy_versions, name="policy-versions"),
    path("policies/versions/<int:number>/", governance_views.policy_version, name="policy-version"),
    path("policies/diff/", governance_views.policy_diff, name="policy-diff"),
    path("policies/edit/<int:tier>/<str:consideration>/", governance_views.policy_cell_edit, name="policy-cell"),
    path("inventory/<str:name>/v/<int:number>/card/", governance_views.model_card, name="model-card"),
    path("reviews/", governance_views.reviews, name="reviews"),
    path("reviews/<int:pk>/complete/", governance_views.review_complete, name="review-complete"),
]
