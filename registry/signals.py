"""Signals other apps listen to (governance lapses approvals when lineage changes)."""

from django.dispatch import Signal

# Sent with version=, actor=, reason= when a version's artifact or lineage changes.
lineage_changed = Signal()
