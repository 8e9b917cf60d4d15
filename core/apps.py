from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Accounts, tokens and background jobs"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import signals  # noqa: F401
        from .role_permissions import post_migrate_sync

        post_migrate.connect(post_migrate_sync, dispatch_uid="core.role_permissions")
