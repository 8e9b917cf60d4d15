"""The admin console for auditors: every object visible, nothing changeable, the trail exportable."""

import csv
import io

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.urls import reverse

from audit.models import AuditEvent
from audit.services import audit_record
from core.role_permissions import OUR_APPS

pytestmark = pytest.mark.django_db


def _our_models():
    return [m for label in OUR_APPS if apps.is_installed(label) for m in apps.get_app_config(label).get_models()]


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_model_of_our_apps_is_in_the_admin():
    missing = [m._meta.label for m in _our_models() if not admin.site.is_registered(m)]
    assert missing == []


@pytest.mark.parametrize("role", ["auditor", "risk_officer", "admin"])
def test_role_groups_view_everything_and_change_nothing(db, role):
    perms = set(
        Group.objects.get(name=role).permissions.filter(content_type__app_label__in=OUR_APPS)
        .values_list("content_type__app_label", "codename")
    )
    expected_views = {(m._meta.app_label, f"view_{m._meta.model_name}") for m in _our_models()}
    assert expected_views <= perms
    # Sign-ins and IP addresses in the trail: auditors and admins only (audit.selectors).
    sensitive = {"see"} if role in ("auditor", "admin") else set()
    assert {codename.split("_")[0] for _, codename in perms} == {"view", "export"} | sensitive
    assert ("audit", "export_auditevent") in perms
    assert (("audit", "see_sensitive_auditevent") in perms) == bool(sensitive)


def test_data_scientists_may_not_export(db):
    assert not Group.objects.get_or_create(name="data_scientist")[0].permissions.filter(codename="export_auditevent").exists()
    assert Group.objects.get(name="admin").permissions.filter(codename="export_auditevent").exists()


def test_auditor_sees_changelists_of_every_app(admin_client_for, inventory):
    client = admin_client_for("audrey")
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    for model in _our_models():
        response = client.get(_url(model, "changelist"))
        assert response.status_code == 200, model._meta.label
    body = client.get(_url(type(inventory["model"]), "changelist")).content.decode()
    assert "credit-gbm" in body


def test_auditor_opens_objects_without_save_or_delete(admin_client_for, inventory):
    client = admin_client_for("audrey")
    for obj in [inventory["use_case"], inventory["model"], inventory["version"], inventory["datasets"][0]]:
        response = client.get(_url(type(obj), "change", obj.pk))
        assert response.status_code == 200, type(obj)
        body = response.content.decode()
        for button in ('name="_save"', 'name="_continue"', 'name="_addanother"', "deletelink"):
            assert button not in body, (type(obj), button)
        assert str(obj) in body


def test_auditor_cannot_add_change_or_delete(admin_client_for, inventory):
    client = admin_client_for("audrey")
    model = inventory["model"]
    assert client.get(_url(type(model), "add")).status_code == 403
    assert client.post(_url(type(model), "add"), {"name": "sneaky"}).status_code == 403
    response = client.post(_url(type(model), "change", model.pk), {"name": "renamed", "description": "x"})
    assert response.status_code == 403
    assert client.get(_url(type(model), "delete", model.pk)).status_code == 403
    assert client.post(_url(type(model), "delete", model.pk), {"post": "yes"}).status_code == 403
    # The bulk delete action is not offered, and posting it anyway deletes nothing.
    changelist = client.get(_url(type(model), "changelist")).content.decode()
    assert "delete_selected" not in changelist
    client.post(_url(type(model), "changelist"), {"action": "delete_selected", "_selected_action": [model.pk], "post": "yes"})
    model.refresh_from_db()
    assert model.name == "credit-gbm"


def test_auditor_trail_has_filters_and_export_actions(admin_client_for, cast):
    audit_record(action="test.event", actor=cast["dana"], object_type="x", object_id="1")
    body = admin_client_for("audrey").get(_url(AuditEvent, "changelist")).content.decode()
    for filter_param in ("actor_username", "object_type", "action", "timestamp"):
        assert f"?{filter_param}" in body or f"&amp;{filter_param}" in body, filter_param
    assert 'value="export_csv"' in body and 'value="export_jsonl"' in body
    assert "delete_selected" not in body


def test_export_action_streams_the_selected_filtered_rows(admin_client_for, cast):
    dana_events = [audit_record(action="test.kept", actor=cast["dana"], object_type="x", object_id=str(i)) for i in range(3)]
    audit_record(action="test.kept", actor=cast["sam"], object_type="x", object_id="9")
    client = admin_client_for("audrey")
    url = _url(AuditEvent, "changelist") + "?actor_username=dana&action=test.kept"
    selected = [dana_events[0].pk, dana_events[2].pk]
    response = client.post(url, {"action": "export_csv", "_selected_action": selected})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["actor_username"], r["object_id"]) for r in rows] == [("dana", "0"), ("dana", "2")]

    export = AuditEvent.objects.get(action="audit.export")
    assert export.actor_username == "audrey"
    assert export.changes == {
        "format": "csv", "via": "admin",
        "filters": {"actor_username": "dana", "action": "test.kept", "selected_ids": sorted(selected)},
    }


def test_export_action_select_across_takes_the_whole_filter(admin_client_for, cast):
    for i in range(3):
        audit_record(action="test.kept", actor=cast["dana"], object_type="x", object_id=str(i))
    audit_record(action="test.other", actor=cast["dana"], object_type="x", object_id="9")
    client = admin_client_for("rita")
    url = _url(AuditEvent, "changelist") + "?action=test.kept"
    first = AuditEvent.objects.filter(action="test.kept").first().pk
    response = client.post(url, {"action": "export_jsonl", "_selected_action": [first], "select_across": "1"})
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 3 and all('"action": "test.kept"' in line for line in lines)


def _tamper(sql, params):
    if connection.vendor != "postgresql":  # the append-only trigger is PostgreSQL's
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        return
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")


def test_chain_status_shows_intact_then_broken(admin_client_for, cast):
    events = [audit_record(action="test.event", object_type="x", object_id=str(i)) for i in range(3)]
    client = admin_client_for("audrey")
    body = client.get(_url(AuditEvent, "changelist")).content.decode()
    assert "Hash chain intact" in body and "chain-broken" not in body

    _tamper("UPDATE audit_auditevent SET object_repr = 'edited' WHERE id = %s", [events[1].pk])
    body = client.get(_url(AuditEvent, "changelist")).content.decode()
    assert f"Hash chain broken at event #{events[1].seq}" in body
    assert "edited?" in body
    assert "Hash chain intact" not in body


def test_non_staff_role_holder_is_sent_to_login(cast, client):
    client.force_login(cast["dana"])  # not staff
    response = client.get(_url(AuditEvent, "changelist"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_data_scientist_on_staff_cannot_export(admin_client_for, cast):
    audit_record(action="test.event", object_type="x", object_id="1")
    client = admin_client_for("dana")
    # Dana's group holds no admin permission at all: the trail is not even listed.
    assert client.get(_url(AuditEvent, "changelist")).status_code == 403
    assert not AuditEvent.objects.filter(action="audit.export").exists()
    assert not Permission.objects.filter(group__name="data_scientist", codename="export_auditevent").exists()


def test_even_a_superuser_cannot_edit_our_objects_in_the_admin(cast, client, inventory):
    """Writes go through the services, which audit them; an admin form would bypass the trail."""
    cast["root"].is_staff = cast["root"].is_superuser = True
    cast["root"].save(update_fields=["is_staff", "is_superuser"])
    client.force_login(cast["root"])
    version = inventory["version"]
    body = client.get(_url(type(version), "change", version.pk)).content.decode()
    assert 'name="_save"' not in body
    assert client.post(_url(type(version), "change", version.pk), {"description": "x"}).status_code == 403
    assert client.get(_url(type(version), "add")).status_code == 403
