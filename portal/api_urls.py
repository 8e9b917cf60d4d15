"""`/api/v1/` — every app's API, routed in one place."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from audit.api import AuditEventViewSet, AuditVerifyView
from core.views import ApiTokenViewSet, BackgroundJobViewSet, MeView
from registry.api import DatasetViewSet, ModelVersionViewSet, RegisteredModelViewSet, UseCaseViewSet

app_name = "api"

router = DefaultRouter()
router.register("use-cases", UseCaseViewSet, basename="use-case")
router.register("datasets", DatasetViewSet, basename="dataset")
router.register("models", RegisteredModelViewSet, basename="model")
router.register(r"models/(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)/versions", ModelVersionViewSet, basename="version")
router.register("tokens", ApiTokenViewSet, basename="token")
router.register("jobs", BackgroundJobViewSet, basename="job")
router.register("audit/events", AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    path("audit/verify/", AuditVerifyView.as_view(), name="audit-verify"),
    *router.urls,
]
