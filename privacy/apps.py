from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy (data-subject rights)"

    def ready(self):
        from . import gates  # noqa: F401 - registers the blocking gate with governance
