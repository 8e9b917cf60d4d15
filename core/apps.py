from django.apps import AppConfig
from django.db.models.signals import post_migrate

from .role_permissions import OUR_APPS, post_migrate_sync


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Accounts, tokens and background jobs"

    def ready(self):
        # Imported here, not above: they import models and the admin, which exist only once the
        # apps are loaded.
        from django.contrib import admin

        from . import signals  # noqa: F401 - connects the login and role receivers
        from .admin import admin_register_fallbacks

        post_migrate.connect(post_migrate_sync, dispatch_uid="core.role_permissions")

        # The admin app is ready (and has imported every admin module) before ours: models left
        # without an admin get a read-only one, so the auditors' console shows every object.
        admin_register_fallbacks(site=admin.site, app_labels=OUR_APPS)
