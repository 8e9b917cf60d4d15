"""Signals other apps listen to (governance lapses approvals when lineage changes)."""

from django.dispatch import Signal

# Sent with version=, actor=, reason= when a version's artifact or lineage changes.
lineage_changed = Signal()

# Sent with proposal= when a registry change waits for a risk officer (governance notifies them).
change_proposed = Signal()
