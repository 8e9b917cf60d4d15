def lapse_on_lineage_change(sender, *, version, actor=None, reason="", **kwargs):
    """A version's artifact or lineage changed: open approvals no longer vouch for it, and a
    production version is flagged for review."""
    from .services import evidence_changed

    evidence_changed(version=version, actor=actor, reason=reason)


def notify_proposal(sender, *, proposal, **kwargs):
    """The registry stored a proposal (a model move): tell the risk officers after commit."""
    from django.db import transaction

    from .notify import proposal_created

    transaction.on_commit(lambda: proposal_created(proposal_id=proposal.pk))
