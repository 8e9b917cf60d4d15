from django.apps import AppConfig


class AbtestsConfig(AppConfig):
    name = "abtests"
    verbose_name = "A/B tests"

    def ready(self):
        from . import gates  # noqa: F401 - registers the governance gate
