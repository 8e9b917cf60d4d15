import pytest

from audit.models import AuditEvent
from core.errors import Forbidden, InvalidInput
from governance import defaults
from governance.raci import raci_update
from governance.shapes import RaciCellsShape, errors_of


def test_default_matrix_is_valid():
    assert errors_of(RaciCellsShape, defaults.RACI, path="cells") == {}


def test_exactly_one_accountable_and_a_responsible_per_task(inventory, cast):
    cells = {t: dict(row) for t, row in defaults.RACI.items()}
    cells["deployments"]["data_ops"] = "A"          # two Accountables (production is A/R)
    cells["identification"] = {r: "" for r in defaults.RACI_ROLES}
    cells["identification"]["business_stakeholder"] = "A"  # no Responsible
    cells["monitoring"]["architect"] = "X"
    with pytest.raises(InvalidInput) as exc:
        raci_update(actor=cast["dana"], use_case=inventory["use_case"], cells=cells)
    fields = exc.value.fields
    assert "found 2" in fields["cells.deployments"][0]
    assert fields["cells.identification"] == ["At least one Responsible (R or A/R) is required."]
    assert "got architect='X'" in fields["cells.monitoring"][0]
    assert not AuditEvent.objects.filter(action="raci.update").exists()


def test_unknown_people_and_roles_in_assignments(inventory, cast):
    with pytest.raises(InvalidInput) as exc:
        raci_update(actor=cast["dana"], use_case=inventory["use_case"], assignments={"risk_audit": ["ghost"], "wizard": ["sam"]})
    assert "ghost" in exc.value.fields["assignments.risk_audit"][0]
    assert exc.value.fields["assignments.wizard"] == ["Unknown RACI role."]


def test_update_saves_and_audits(inventory, cast):
    uc = inventory["use_case"]
    raci = raci_update(actor=cast["rita"], use_case=uc, assignments={"risk_audit": ["omar"]})
    assert raci.assignments == {"risk_audit": [cast["omar"].pk]}
    assert raci.people_for("model_acceptance", {"A"}) == {cast["omar"].pk}
    assert AuditEvent.objects.filter(action="raci.update").count() == 1


def test_only_use_case_writers_edit(inventory, cast):
    for who in ("sam", "audrey"):
        with pytest.raises(Forbidden):
            raci_update(actor=cast[who], use_case=inventory["use_case"], assignments={})
