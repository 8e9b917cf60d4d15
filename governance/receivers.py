def lapse_on_lineage_change(sender, *, version, actor=None, reason="", **kwargs):
    """A version's artifact or lineage changed: open approvals no longer vouch for it."""
    from .services import promotions_lapse

    promotions_lapse(version=version, actor=actor, reason=reason)
