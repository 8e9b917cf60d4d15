from django.apps import AppConfig


class AbtestsConfig(AppConfig):
    name = "abtests"
    verbose_name = "A/B tests"

    def ready(self):
        from django.conf import settings

        from . import gates  # noqa: F401 - registers the governance gate

        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "abtests-analyses-due",
            {"task": "abtests.tasks.analyses_due_task", "schedule": 15 * 60},
        )
