from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Accounts, tokens and background jobs"

    def ready(self):
        from . import signals  # noqa: F401
