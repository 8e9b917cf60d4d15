"""Receivers of the registry's signals (connected in GovernanceConfig.ready())."""

from django.db import transaction

from .evidence import evidence_changed
from .notify import proposal_created


def lapse_on_lineage_change(sender, *, version, actor=None, reason="", **kwargs):
    """A version's artifact or lineage changed: open approvals no longer vouch for it, and a
    production version is flagged for review."""
    evidence_changed(version=version, actor=actor, reason=reason)


def notify_proposal(sender, *, proposal, **kwargs):
    """The registry stored a proposal (a model move): tell the risk officers after commit."""
    transaction.on_commit(lambda: proposal_created(proposal_id=proposal.pk))
