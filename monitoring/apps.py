from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        from . import gates  # noqa: F401 - registers the governance gate `drift_monitoring`
