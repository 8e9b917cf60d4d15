"""The portal's pages, under the `portal:` namespace."""

from django.urls import path

from . import audit_views, experiment_views, fairness_views, governance_views, views, work_views

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
    # Experiments: design, protocol, progress, analyses, decision (portal/experiment_views.py).
    path("experiments/", experiment_views.experiments, name="experiments"),
    path("experiments/new/", experiment_views.experiment_new, name="experiment-new"),
    path("experiments/plan/", experiment_views.experiment_plan, name="experiment-plan"),
    path("experiments/<int:pk>/", experiment_views.experiment_detail, name="experiment"),
    path("experiments/<int:pk>/edit/", experiment_views.experiment_edit, name="experiment-edit"),
    path("experiments/<int:pk>/start/", experiment_views.experiment_start, name="experiment-start"),
    path("experiments/<int:pk>/stop/", experiment_views.experiment_stop, name="experiment-stop"),
    path("experiments/<int:pk>/analyses/", experiment_views.experiment_analyse, name="experiment-analyse"),
    path("experiments/<int:pk>/analyses/<int:analysis_id>/", experiment_views.experiment_analysis, name="experiment-analysis"),
    path("experiments/<int:pk>/decision/", experiment_views.experiment_decide, name="experiment-decide"),
    path("experiments/<int:pk>/decision/sign/", experiment_views.experiment_sign, name="experiment-sign"),
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
    path("policies/edit/review-intervals/", governance_views.policy_intervals_edit, name="policy-intervals"),
    path("inventory/<str:name>/v/<int:number>/card/", governance_views.model_card, name="model-card"),
    path("inventory/<str:name>/v/<int:number>/fairness/", fairness_views.fairness_page, name="fairness"),
    path("inventory/<str:name>/v/<int:number>/fairness/upload/", fairness_views.fairness_upload, name="fairness-upload"),
    path("inventory/<str:name>/v/<int:number>/fairness/report.csv", fairness_views.fairness_export_csv, name="fairness-export-csv"),
    path("inventory/<str:name>/v/<int:number>/fairness/report.md", fairness_views.fairness_export_md, name="fairness-export-md"),
    path("inventory/<str:name>/v/<int:number>/card/exceptions/", governance_views.gate_exception_grant, name="gate-exception-grant"),
    path("governance/proposals/", governance_views.proposals, name="proposals"),
    path("governance/proposals/<int:pk>/", governance_views.proposal_detail, name="proposal"),
    path("reviews/", governance_views.reviews, name="reviews"),
    path("reviews/<int:pk>/complete/", governance_views.review_complete, name="review-complete"),
    # Data scientists: register, request the next stage, withdraw, feed experiments (portal/work_views.py).
    path("my-work/", work_views.work, name="work"),
    path("models/new/", work_views.model_new, name="model-new"),
    path("inventory/<str:name>/versions/new/", work_views.version_new, name="version-new"),
    path("inventory/<str:name>/v/<int:number>/request/", work_views.version_request, name="version-request"),
    path("promotions/<int:pk>/withdraw/", work_views.promotion_withdraw, name="promotion-withdraw"),
    path("experiments/<int:pk>/events/", work_views.experiment_events, name="experiment-events"),
    # The auditors' console (portal/audit_views.py).
    path("audit/", audit_views.events, name="audit"),
    path("audit/export/", audit_views.export, name="audit-export"),
    path("audit/chain/", audit_views.chain, name="audit-chain"),
    path("audit/events/<int:seq>/", audit_views.event_detail, name="audit-event"),
    path("audit/point-in-time/", audit_views.point_in_time, name="audit-point-in-time"),
]
