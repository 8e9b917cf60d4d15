from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Accounts, tokens and background jobs"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import signals  # noqa: F401
        from .role_permissions import post_migrate_sync

        post_migrate.connect(post_migrate_sync, dispatch_uid="core.role_permissions")

        # The admin app is ready (and has imported every admin module) before ours: models left
        # without an admin get a read-only one, so the auditors' console shows every object.
        from django.contrib import admin

        from .admin import admin_register_fallbacks
        from .role_permissions import OUR_APPS

        admin_register_fallbacks(site=admin.site, app_labels=OUR_APPS)
