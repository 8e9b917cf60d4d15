"""`/api/v1/` — every app's API, routed in one place."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from abtests.api import ExperimentViewSet
from audit.api import AuditEventViewSet, AuditPointInTimeView, AuditVerifyView
from core.views import ApiTokenViewSet, BackgroundJobViewSet, MeView
from fairness import api as fairness_api
from governance import api as governance_api
from monitoring import api as monitoring_api
from privacy import api as privacy_api
from registry.api import DatasetViewSet, ModelVersionViewSet, RegisteredModelViewSet, UseCaseViewSet

app_name = "api"

router = DefaultRouter()
router.register("use-cases", UseCaseViewSet, basename="use-case")
router.register("experiments", ExperimentViewSet, basename="experiment")
router.register("datasets", DatasetViewSet, basename="dataset")
router.register("models", RegisteredModelViewSet, basename="model")
router.register(r"models/(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)/versions", ModelVersionViewSet, basename="version")
router.register("tokens", ApiTokenViewSet, basename="token")
router.register("jobs", BackgroundJobViewSet, basename="job")
router.register("audit/events", AuditEventViewSet, basename="audit-event")
router.register("policies/versions", governance_api.PolicyVersionViewSet, basename="policy-version")
router.register("promotions", governance_api.PromotionViewSet, basename="promotion")
router.register("reviews", governance_api.ReviewViewSet, basename="review")
router.register("proposals", governance_api.ProposalViewSet, basename="proposal")
router.register("gate-exceptions", governance_api.GateExceptionViewSet, basename="gate-exception")
router.register("subject-requests", privacy_api.SubjectRequestViewSet, basename="subject-request")
router.register("obligations", privacy_api.ObligationViewSet, basename="obligation")

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    path("audit/verify/", AuditVerifyView.as_view(), name="audit-verify"),
    path("audit/point-in-time/", AuditPointInTimeView.as_view(), name="audit-point-in-time"),
    path("questionnaire/", governance_api.QuestionnaireView.as_view(), name="questionnaire"),
    path("use-cases/<int:pk>/classification/", governance_api.ClassificationView.as_view(), name="use-case-classification"),
    path("use-cases/<int:pk>/raci/", governance_api.RaciView.as_view(), name="use-case-raci"),
    path("policies/", governance_api.PolicyView.as_view(), name="policy"),
    path("models/<str:name>/versions/<int:number>/card/", governance_api.ModelCardView.as_view(), name="version-card"),
    path("models/<str:name>/versions/<int:number>/card.md", governance_api.ModelCardMarkdownView.as_view(), name="version-card-md"),
    # Monitoring of a version: settings, reference, production data, checks, alerts (monitoring/api.py).
    path("monitoring/alerts/", monitoring_api.OpenAlertsView.as_view(), name="monitoring-open-alerts"),
    path("models/<str:name>/versions/<int:number>/monitoring/", monitoring_api.MonitorView.as_view(), name="version-monitoring"),
    path("models/<str:name>/versions/<int:number>/monitoring/reference/", monitoring_api.ReferenceView.as_view(),
         name="version-monitoring-reference"),
    path("models/<str:name>/versions/<int:number>/monitoring/batches/", monitoring_api.BatchListView.as_view(),
         name="version-monitoring-batches"),
    path("models/<str:name>/versions/<int:number>/monitoring/labels/", monitoring_api.LabelsView.as_view(),
         name="version-monitoring-labels"),
    path("models/<str:name>/versions/<int:number>/monitoring/checks/", monitoring_api.CheckListView.as_view(),
         name="version-monitoring-checks"),
    path("models/<str:name>/versions/<int:number>/monitoring/checks/<int:check_id>/", monitoring_api.CheckDetailView.as_view(),
         name="version-monitoring-check"),
    path("models/<str:name>/versions/<int:number>/monitoring/alerts/", monitoring_api.AlertListView.as_view(),
         name="version-monitoring-alerts"),
    path("models/<str:name>/versions/<int:number>/monitoring/alerts/<int:alert_id>/acknowledge/",
         monitoring_api.AlertAcknowledgeView.as_view(), name="version-monitoring-alert-acknowledge"),
    path("models/<str:name>/versions/<int:number>/monitoring/alerts/<int:alert_id>/close/",
         monitoring_api.AlertCloseView.as_view(), name="version-monitoring-alert-close"),
    path("datasets/<int:pk>/lineage/", privacy_api.DatasetLineageView.as_view(), name="dataset-lineage"),
    path("datasets/<int:pk>/subject-keys/", privacy_api.SubjectKeysView.as_view(), name="dataset-subject-keys"),
    path("use-cases/<int:pk>/sensitive-attributes/", fairness_api.SensitiveAttributesView.as_view(), name="use-case-sensitive-attributes"),
    path("models/<str:name>/versions/<int:number>/bias-reports/", fairness_api.VersionBiasReportsView.as_view(), name="version-bias-reports"),
    path("bias-reports/<int:pk>/", fairness_api.BiasReportView.as_view(), name="bias-report"),
    *router.urls,
]
