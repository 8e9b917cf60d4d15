"""The portal's pages, under the `portal:` namespace."""

from django.urls import path

from . import views

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
]
