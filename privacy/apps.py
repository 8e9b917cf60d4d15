from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy (data-subject rights)"

    def ready(self):
        from django.conf import settings

        from . import gates  # noqa: F401 - registers the blocking gate with governance

        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "privacy-retention-passed",
            {"task": "privacy.tasks.retention_obligations_task", "schedule": 6 * 60 * 60},
        )
