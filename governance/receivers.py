"""Receivers of the registry's signals (connected in GovernanceConfig.ready())."""

from .evidence import evidence_changed
from .notify import proposal_created


def lapse_on_lineage_change(sender, *, version, actor=None, reason="", **kwargs):
    """A version's artifact or lineage changed: open approvals no longer vouch for it, and a
    production version is flagged for review."""
    evidence_changed(version=version, actor=actor, reason=reason)


def notify_proposal(sender, *, proposal, **kwargs):
    """The registry stored a proposal (a model move), in the transaction that sends this signal:
    tell the risk officers (the mail goes out after commit)."""
    proposal_created(proposal=proposal)
