from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self):
        # Imported here, not at the top: these modules import models, which do not exist until
        # the app registry is ready.
        from registry.signals import change_proposed, lineage_changed

        from . import builtin_gates  # noqa: F401 - registers the gates
        from .receivers import lapse_on_lineage_change, notify_proposal

        lineage_changed.connect(lapse_on_lineage_change, dispatch_uid="governance.lapse_on_lineage_change")
        change_proposed.connect(notify_proposal, dispatch_uid="governance.notify_proposal")
