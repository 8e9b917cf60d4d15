from django.apps import apps
from django.contrib import admin

from .models import ApiToken, BackgroundJob


class ReadOnlyAdmin(admin.ModelAdmin):
    """Admin pages of our apps only look things up: every write goes through a service, which
    checks permissions and writes the audit trail; an admin form would bypass both. Who sees a
    page is decided by Django's `view_*` permissions, which the role groups get
    (`core.role_permissions`)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "user__username", "name"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at", "revoked_at"]


@admin.register(BackgroundJob)
class BackgroundJobAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "status", "progress", "object_type", "object_id", "created_by", "created_at", "finished_at"]
    list_filter = ["kind", "status"]
    search_fields = ["object_id", "message"]


# Words Django's default labels get wrong ("Raci matrixs", "Event batchs").
_ACRONYMS = {"raci": "RACI", "api": "API", "sha256": "SHA-256"}


_IRREGULAR = {"matrix": "matrices", "analysis": "analyses"}


def _english_plural(name: str) -> str:
    head, _, last = name.rpartition(" ")
    if last in _IRREGULAR:
        return f"{head} {_IRREGULAR[last]}".strip()
    if name.endswith(("s", "x", "ch", "sh")):
        return name + "es"
    if name.endswith("y") and name[-2:-1] not in "aeiou":
        return name[:-1] + "ies"
    return name + "s"


def admin_readable_labels(model) -> None:
    """Proper plural and acronyms for a model whose Meta left them to Django's default. Set on
    `_meta` at start-up, not in Meta: labels only, no migration (the autodetector reads
    `_meta.original_attrs`)."""
    meta = model._meta
    name = " ".join(_ACRONYMS.get(word, word) for word in str(meta.verbose_name).split()).replace("sign off", "sign-off")
    if "verbose_name" not in meta.original_attrs:
        meta.verbose_name = name
    if "verbose_name_plural" not in meta.original_attrs:
        meta.verbose_name_plural = _english_plural(name)


def admin_register_fallbacks(*, site, app_labels) -> None:
    """Register `ReadOnlyAdmin` for every model of `app_labels` that no admin module registered,
    so auditors see every object, and give every model readable labels. Runs after the admin's
    autodiscovery (see `CoreConfig.ready`)."""
    for label in app_labels:
        if not apps.is_installed(label):
            continue
        for model in apps.get_app_config(label).get_models():
            admin_readable_labels(model)
            if not site.is_registered(model):
                site.register(model, ReadOnlyAdmin)
