from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views

urlpatterns = [
    # The APIs first: every request walks this list in order until a pattern matches, and the
    # portal's pages are many (API calls are most of the traffic).
    path("api/v1/", include("portal.api_urls", namespace="api")),
    # MLflow's client speaks to these (docs/mlflow.md).
    path("api/2.0/", include("mlflow_api.urls", namespace="mlflow")),
    path("", include("portal.page_urls", namespace="portal")),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script, so the CSP holds.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]
