from django.apps import AppConfig


class FairnessConfig(AppConfig):
    name = "fairness"
    verbose_name = "Fairness"

    def ready(self):
        from . import gates  # noqa: F401 - registers the bias_report gate and the evidence provider
