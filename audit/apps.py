from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        from django.db.models.signals import post_migrate

        from .dbroles import post_migrate_grant

        # Sent to every app after a migrate; `sender=self` runs the grants once, after all tables exist.
        post_migrate.connect(post_migrate_grant, sender=self, dispatch_uid="audit.app_role_grant")
