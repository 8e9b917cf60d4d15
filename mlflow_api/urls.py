"""`/api/2.0/mlflow/…` (MLflow's Model Registry protocol) and `/api/2.0/mlflow-artifacts/…`
(its artifact proxy). Included by portal/urls.py."""

from django.urls import path, re_path

from . import views

app_name = "mlflow"

urlpatterns = [
    *[path(f"mlflow/{route}", views.MlflowView.route(handler, methods, read_only), name=route)
      for route, handler, methods, read_only in views.ROUTES],
    path("mlflow/registered-models/alias", views.AliasView.as_view(), name="registered-models/alias"),
    path("mlflow-artifacts/artifacts", views.ArtifactListView.as_view(), name="artifacts-list"),
    re_path(r"^mlflow-artifacts/artifacts/(?P<path>.+)$", views.ArtifactView.as_view(), name="artifacts"),
]
