from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One append-only entry of the audit trail.

    Events form a hash chain: `hash = sha256(prev_hash + canonical(content))`, where content
    includes `seq`. Editing, deleting or reordering events breaks the chain, which
    `audit.verify.audit_chain_verify` detects; signed checkpoints written outside the database
    (`audit.checkpoints`) catch a deleted tail or a re-hashed chain. On PostgreSQL triggers refuse
    UPDATE, DELETE and TRUNCATE, and the app's database role may only insert and read.

    An event is written in its change's transaction. It gets its place in the chain (`seq`,
    `prev_hash`, `hash`) at once when the chain is free, or otherwise right after its
    transaction commits ("sealing", see `audit.services`); until then those fields are empty.
    """

    seq = models.PositiveBigIntegerField(unique=True, null=True, blank=True, editable=False)
    timestamp = models.DateTimeField(db_index=True)
    # No FK constraint: users come and go, the trail must not change (or cascade) with them.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_username = models.CharField(max_length=150, blank=True, db_index=True)
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=80, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(max_length=300, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["object_type", "object_id", "seq"]),
            # The sealer's work list: events still waiting for their place in the chain.
            models.Index(fields=["id"], condition=models.Q(seq__isnull=True), name="audit_unsealed"),
        ]
        permissions = [
            # Bulk export is its own right, beyond viewing (see `audit.exports`).
            ("export_auditevent", "Can export the audit trail"),
            # Sign-ins and source IP addresses: auditors and administrators only
            # (see `audit.selectors.events_visible_to`).
            ("see_sensitive_auditevent", "Can see sign-ins and IP addresses in the audit trail"),
        ]

    def __str__(self):
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id} by {self.actor_username or 'system'}"
