from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import Objection, Obligation, Signature, SubjectKeyIndex, SubjectRequest


@admin.register(SubjectRequest)
class SubjectRequestAdmin(ReadOnlyAdmin):
    list_display = ["pk", "kind", "reference", "created_by", "created_at"]
    list_filter = ["kind"]
    search_fields = ["reference"]
    exclude = ["subject_hash"]


@admin.register(Obligation)
class ObligationAdmin(ReadOnlyAdmin):
    list_display = ["pk", "model", "source", "status", "due_date", "closed_at"]
    list_filter = ["status", "source"]


@admin.register(Signature)
class SignatureAdmin(ReadOnlyAdmin):
    list_display = ["obligation", "signer", "capacity", "signed_at"]


@admin.register(Objection)
class ObjectionAdmin(ReadOnlyAdmin):
    list_display = ["request", "use_case", "created_at"]


@admin.register(SubjectKeyIndex)
class SubjectKeyIndexAdmin(ReadOnlyAdmin):
    list_display = ["dataset", "key_count", "uploaded_by", "uploaded_at"]
