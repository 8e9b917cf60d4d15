"""The governance gate this app provides."""

from governance.gates import GateResult, register_gate

from .models import Monitor, ReferenceProfile


@register_gate("drift_monitoring", label="Drift monitoring configured")
def drift_monitoring(*, version, promotion, params) -> GateResult:
    """Met when the version has a reference profile and a check schedule."""
    profile = ReferenceProfile.objects.filter(version=version).only("rows", "features").first()
    monitor = Monitor.objects.filter(version=version).only("schedule_minutes").first()
    schedule = monitor.schedule_minutes if monitor else None
    url = f"/api/v1/models/{version.model.name}/versions/{version.number}/monitoring/"
    if profile and schedule:
        return GateResult(True, f"Reference profile of {profile.rows} rows, {len(profile.features)} features; "
                                f"checked every {schedule} min once deployed.", evidence_url=url)
    missing = [what for what, ok in (("a reference profile", profile), ("a check schedule", schedule)) if not ok]
    return GateResult(False, f"v{version.number} has no {' and no '.join(missing)}.", evidence_url=url)
