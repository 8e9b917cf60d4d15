"""Data-subject rights: one service per action, each atomic and audited."""

import hashlib
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.services import audit_record
from core.errors import Conflict, Forbidden, InvalidInput
from core.refusals import refusals_audited
from governance.selectors import classification_current, policy_current
from registry.models import Dataset, ModelVersion, RegisteredModel, UseCase

from . import access, selectors
from .hashing import subject_hash
from .models import Objection, Obligation, Signature, SubjectKey, SubjectKeyIndex, SubjectRequest

DEFAULT_DUE_DAYS = 30
MAX_KEY_LENGTH = 256
MAX_REPORTED_ERRORS = 20
BATCH = 5000


def _change(**values) -> dict:
    return {k: {"before": None, "after": v} for k, v in values.items()}


# --- the key index -----------------------------------------------------------------------------


def _key_lines(fileobj):
    """(line number, key or None, problem) per line, streamed; one trailing empty line is fine."""
    pending_blank = None
    for number, raw in enumerate(fileobj, start=1):
        if pending_blank is not None:
            yield pending_blank, None, "Empty line."
            pending_blank = None
        if len(raw) > MAX_KEY_LENGTH * 4 + 2:  # more bytes than any key of 256 characters and CRLF
            yield number, None, f"Longer than {MAX_KEY_LENGTH} characters."
            continue
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError:
            yield number, None, "Not UTF-8 text."
            continue
        key = text.rstrip("\r\n").strip()
        if not key:
            pending_blank = number
        elif len(key) > MAX_KEY_LENGTH:
            yield number, None, f"Longer than {MAX_KEY_LENGTH} characters."
        elif any(ch.isspace() or not ch.isprintable() for ch in key):
            yield number, None, "A key is one token without spaces or control characters."
        else:
            yield number, key, ""


CHUNK = 64 * 1024


def _read_lines(fileobj, digest):
    """The file's lines, read in 64 KB chunks (memory stays flat whatever the file's size, even
    for an in-memory upload), hashing the bytes as they pass. A line longer than a chunk is
    yielded cut short (it is reported as too long) and its rest skipped."""
    fileobj.seek(0)
    rest, skipping = b"", False
    while chunk := fileobj.read(CHUNK):
        digest.update(chunk)
        *lines, rest = (rest + chunk).split(b"\n")
        for line in lines:
            if skipping:  # the end of the over-long line
                skipping = False
                continue
            yield line
        if len(rest) > CHUNK:
            if not skipping:
                yield rest[:MAX_KEY_LENGTH * 4 + 1]
            rest, skipping = b"", True
    if rest and not skipping:
        yield rest


def _insert_keys(rows) -> None:
    """Insert (dataset id, hash) rows, skipping duplicates. Plain `executemany`: building a model
    instance per key made `bulk_create` spend most of an upload's time in the ORM. The statement
    is the same on SQLite (3.24+) and PostgreSQL."""
    if not rows:
        return
    table = connection.ops.quote_name(SubjectKey._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} (dataset_id, key_hash) VALUES (%s, %s) ON CONFLICT DO NOTHING", rows)


@refusals_audited("subject_keys.upload")
@transaction.atomic
def subject_keys_upload(*, actor, dataset: Dataset, fileobj) -> SubjectKeyIndex:
    """Store the salted hashes of the keys in `fileobj` (one key per line) as the dataset's
    index. Streamed in batches; any bad line rejects the whole file with its line number, and
    nothing is stored. Written once: a different set of subjects is a new dataset version."""
    if not access.can_upload_keys(actor, dataset):
        raise Forbidden("Only the dataset's owner uploads its data-subject keys.")
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    if SubjectKeyIndex.objects.filter(dataset=dataset).exists():
        raise Conflict(f"{dataset} already has a key index; register changed data as a new dataset version.",
                       fields={"file": ["A key index is written once."]}, code="key_index_exists")
    errors, batch, digest = [], [], hashlib.sha256()

    for number, key, problem in _key_lines(_read_lines(fileobj, digest)):
        if problem:
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append(f"Line {number}: {problem}")
            continue
        if errors:
            continue  # keep reading to report further bad lines, storing nothing
        batch.append((dataset.pk, subject_hash(key)))
        if len(batch) >= BATCH:
            # Batches go in as they fill (duplicates ignored); a bad line later rolls them back.
            _insert_keys(batch)
            batch = []
    if errors:
        raise InvalidInput("Some lines are not data-subject keys; nothing was stored.", fields={"file": errors})
    _insert_keys(batch)
    count = SubjectKey.objects.filter(dataset=dataset).count()
    if not count:
        raise InvalidInput("The file holds no keys.", fields={"file": ["Line 1: no keys in the file."]})
    index = SubjectKeyIndex.objects.create(dataset=dataset, key_count=count, file_sha256=digest.hexdigest(),
                                           uploaded_by=actor)
    audit_record(action="subject_keys.upload", actor=actor, obj=dataset,
                 changes=_change(key_count=index.key_count, file_sha256=index.file_sha256))
    return index


# --- requests and their obligations ------------------------------------------------------------


def due_days(*, use_case: UseCase) -> int:
    """Days to close an obligation: the current policy's `privacy_obligation_due_days` (a
    number, or {tier: days}), else DEFAULT_DUE_DAYS."""
    setting = policy_current().data.get("privacy_obligation_due_days")
    if isinstance(setting, dict):
        current = classification_current(use_case=use_case)
        setting = setting.get(str(current.tier if current else 4))
    if isinstance(setting, int) and not isinstance(setting, bool) and setting > 0:
        return setting
    return DEFAULT_DUE_DAYS


def _open_obligations(*, impact: dict, affected_ids, actor, source: str, request=None, dataset=None) -> list[Obligation]:
    """One obligation per affected model (archived versions too: their artifacts still hold what
    they learnt)."""
    by_model: dict[int, list[int]] = {}
    for row in impact["versions"]:
        by_model.setdefault(row["model_id"], []).append(row["id"])
    opened = []
    models = RegisteredModel.objects.select_related("use_case").in_bulk(by_model)
    for model_id, version_ids in sorted(by_model.items()):
        model = models[model_id]
        due = timezone.localdate() + timedelta(days=due_days(use_case=model.use_case))
        try:
            with transaction.atomic():
                obligation = Obligation.objects.create(source=source, request=request, dataset=dataset, model=model,
                                                       affected_datasets=sorted(affected_ids), due_date=due)
        except IntegrityError:
            continue  # the retention obligation for this model and dataset exists already
        obligation.versions.set(version_ids)
        audit_record(action="obligation.open", actor=actor, obj=obligation, changes=_change(
            source=source, request=request.pk if request else None, dataset=str(dataset) if dataset else None,
            model=model.name, versions=sorted(version_ids), due_date=due))
        opened.append(obligation)
    return opened


@refusals_audited("subject_request.create")
@transaction.atomic
def subject_request_create(*, actor, kind: str, subject_key: str = "", datasets=(), reference: str = "",
                           note: str = "") -> SubjectRequest:
    """Record a data-subject request, compute its impact and, for an erasure, open a retraining
    obligation per affected model; for an objection, record it against each affected use case
    flagged as making automated decisions. The raw key is hashed here and never stored."""
    if not access.can_make_request(actor):
        raise Forbidden("Risk officers and admins record data-subject requests.")
    errors = {}
    if kind not in SubjectRequest.Kind.values:
        errors["kind"] = [f"One of {', '.join(SubjectRequest.Kind.values)}."]
    if not subject_key.strip() and not datasets:
        errors["subject_key"] = ["Name the data subject's key or the datasets concerned."]
    if subject_key and len(subject_key.strip()) > MAX_KEY_LENGTH:
        errors["subject_key"] = [f"At most {MAX_KEY_LENGTH} characters."]
    if errors:
        raise InvalidInput("Invalid input.", fields=errors)
    hashed = subject_hash(subject_key) if subject_key.strip() else ""
    dataset_ids = sorted(d.pk for d in datasets)
    impact = selectors.impact_compute(subject_hash=hashed, dataset_ids=dataset_ids)
    request = SubjectRequest.objects.create(kind=kind, subject_hash=hashed, reference=reference[:200], note=note,
                                            impact=impact, created_by=actor)
    request.datasets.set(dataset_ids)
    audit_record(action="subject_request.create", actor=actor, obj=request, changes=_change(
        kind=kind, reference=reference, subject_hash=hashed or None, datasets=dataset_ids,
        affected_datasets=[d["id"] for d in impact["datasets"]], affected_versions=[v["id"] for v in impact["versions"]]))
    if kind == SubjectRequest.Kind.ERASURE:
        _open_obligations(impact=impact, affected_ids=[d["id"] for d in impact["datasets"]], actor=actor,
                          source=Obligation.Source.ERASURE, request=request)
    if kind == SubjectRequest.Kind.OBJECTION:
        use_case_ids = {v["use_case_id"] for v in impact["versions"] if v["automated_decisions"]}
        for use_case in UseCase.objects.filter(pk__in=use_case_ids).order_by("name"):
            objection = Objection.objects.create(request=request, use_case=use_case,
                                                 human_review_route=use_case.human_review_route)
            audit_record(action="objection.record", actor=actor, obj=use_case, changes=_change(
                request=request.pk, human_review_route=objection.human_review_route))
    return request


def retention_obligations_open(*, today=None) -> list[Obligation]:
    """Open an obligation per model trained or validated on a dataset whose retention date has
    passed (or on data derived from it). Safe to run twice: one per model and dataset."""
    today = today or timezone.localdate()
    opened = []
    for dataset in Dataset.objects.filter(retention_until__lt=today).order_by("pk"):
        with transaction.atomic():
            impact = selectors.impact_compute(dataset_ids=[dataset.pk])
            affected = [d["id"] for d in impact["datasets"]]
            opened += _open_obligations(impact=impact, affected_ids=affected, actor=None,
                                        source=Obligation.Source.RETENTION, dataset=dataset)
    return opened


def _lock(obligation: Obligation) -> Obligation:
    obligation = Obligation.objects.select_for_update(of=("self",)).select_related("model__use_case", "request").get(
        pk=obligation.pk)
    if obligation.status != Obligation.Status.OPEN:
        raise Conflict(f"This obligation is closed ({obligation.get_status_display().lower()}).")
    return obligation


@refusals_audited("obligation.retrained")
@transaction.atomic
def obligation_close_retrained(*, actor, obligation: Obligation, version: ModelVersion) -> Obligation:
    """Close by pointing at a new version of the model registered on datasets free of the
    affected data (none of them affected, derived from affected data, or listing the subject)."""
    if not access.can_record_retraining(actor, obligation):
        raise Forbidden("Only the model's data scientists, risk officers and admins record a retraining.")
    obligation = _lock(obligation)
    problems = []
    if version.model_id != obligation.model_id:
        problems.append(f"{version} is not a version of {obligation.model.name}.")
    elif obligation.versions.filter(pk=version.pk).exists():
        problems.append(f"{version} is one of the affected versions.")
    used = list(version.training_datasets.values_list("pk", flat=True)) + list(
        version.validation_datasets.values_list("pk", flat=True))
    if not version.training_datasets.exists():
        problems.append(f"{version} records no training datasets, so Steward cannot check them.")
    request = obligation.request
    bad = selectors.dataset_uses_affected(dataset_ids=used, affected_ids=obligation.affected_datasets,
                                          subject_hash=request.subject_hash if request else "")
    if bad:
        names = ", ".join(str(d) for d in Dataset.objects.filter(pk__in=bad).order_by("name", "version"))
        problems.append(f"{version} uses affected data: {names}.")
    if problems:
        raise InvalidInput("This version does not close the obligation.", fields={"version": problems})
    obligation.status = Obligation.Status.RETRAINED
    obligation.retrained_version = version
    obligation.closed_at = timezone.now()
    obligation.save(update_fields=["status", "retrained_version", "closed_at"])
    audit_record(action="obligation.close", actor=actor, obj=obligation, changes={
        "status": {"before": "open", "after": obligation.status}, **_change(retrained_version=str(version))})
    return obligation


@refusals_audited("obligation.sign")
@transaction.atomic
def obligation_sign(*, actor, obligation: Obligation, statement: str) -> Obligation:
    """Sign the risk acceptance: the use case's Accountable and a risk officer, two people, none
    of them governed by it (model owner, use case owner, the affected versions' creators). The
    second signature closes the obligation."""
    obligation = _lock(obligation)
    capacities = access.signing_capacities(actor, obligation)
    if not capacities:
        raise Forbidden("A risk acceptance is signed by the use case's Accountable and a risk officer, "
                        "never by the people whose model it concerns.")
    if obligation.signatures.filter(signer=actor).exists():
        raise Conflict("You have signed this risk acceptance already; it needs a second person.")
    filled = set(obligation.signatures.values_list("capacity", flat=True))
    open_capacities = sorted(capacities - filled)
    if not open_capacities:
        raise Conflict("Your signature would count as " + " or ".join(sorted(capacities))
                       + ", which is signed already; the other signature is still needed.")
    if not (statement or "").strip():
        raise InvalidInput("Say which risk you accept and why.", fields={"statement": ["Required."]})
    capacity = open_capacities[0]  # "accountable" first: only one person can give it
    Signature.objects.create(obligation=obligation, signer=actor, capacity=capacity, statement=statement.strip())
    audit_record(action="obligation.sign", actor=actor, obj=obligation,
                 changes=_change(capacity=capacity, statement=statement.strip()))
    if filled | {capacity} >= {Signature.Capacity.ACCOUNTABLE, Signature.Capacity.RISK_OFFICER}:
        obligation.status = Obligation.Status.ACCEPTED
        obligation.closed_at = timezone.now()
        obligation.save(update_fields=["status", "closed_at"])
        signers = [s.signer.get_username() for s in obligation.signatures.select_related("signer")]
        audit_record(action="obligation.close", actor=actor, obj=obligation, changes={
            "status": {"before": "open", "after": obligation.status}, **_change(signed_by=signers)})
    return obligation
