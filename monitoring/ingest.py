"""Monitoring uploads: reference profiles, production batches and labels.

Each upload is read whole and checked before anything is written (`readers`: pyarrow, block by
block), so a bad row rejects the file with its row number and leaves what was stored before
untouched. Row ids are checked by column: missing, too long, twice in the file, or already sent
(one query); the rows kept for realized performance are written with `core.bulk` (`COPY` on
PostgreSQL), labels joined to them with one `UPDATE … FROM` a copied table.

A little over 400 lines on purpose: the three uploads share their reading, their row checks and
their error shape (`_bad_file`), and read best side by side.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.services import audit_record, diff
from core import bulk
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry.models import ModelVersion

from . import access, drift, performance
from . import readers as ingest
from .blobs import pack as _npz
from .blobs import unpack as _load
from .models import Batch, Prediction, ReferenceProfile
from .services import monitor_for, profile_for

RESERVED = ("row_id", "prediction", "score", "label", "timestamp")
DEFAULT_SAMPLE_CAP = 100_000
MIN_SAMPLE_CAP = 1_000  # Evidently's rule switches at 1,000 reference rows: KS needs them all
ROW_ID_MAX = 100


def _bad_file(exc: ingest.RowError, field: str = "file"):
    return InvalidInput(f"Rejected: {exc}. Nothing was stored.", fields={field: [str(exc)]})



# --- reference profile ----------------------------------------------------------------------


def _feature_kinds(version, path, fmt, feature_types: dict | None) -> tuple[dict, dict]:
    inferred = ingest.columns_of(path, fmt)
    signature = ingest.signature_types(version.input_signature)
    kinds, sources = {}, {}
    for name, kind in inferred.items():
        if name in RESERVED:
            continue
        kinds[name], sources[name] = kind, "inferred"
        if name in signature:
            kinds[name], sources[name] = signature[name], "signature"
    for name, kind in (feature_types or {}).items():
        if name not in kinds:
            raise InvalidInput("Unknown feature.", fields={"feature_types": [f"{name!r} is not a column of the file."]})
        if kind not in (drift.NUMERIC, drift.CATEGORICAL):
            raise InvalidInput("Unknown kind.", fields={"feature_types": [f"{name}: use 'numeric' or 'categorical'."]})
        kinds[name], sources[name] = kind, "user"
    if not kinds:
        raise InvalidInput("The file has no feature columns.", fields={"file": ["No columns besides " + ", ".join(RESERVED) + "."]})
    return kinds, sources


def _build_profile(path, fmt, kinds, sample_cap):
    numeric = {n: (drift.ReservoirSorted(sample_cap, seed=i), drift.StreamingMoments(), drift.SmallCounter())
               for i, n in enumerate(kinds) if kinds[n] == drift.NUMERIC}
    cats = {n: {} for n in kinds if kinds[n] == drift.CATEGORICAL}
    missing = dict.fromkeys(kinds, 0)
    rows = 0
    for offset, block in ingest.read_blocks(path, fmt, kinds):
        for name, (reservoir, moments, small) in numeric.items():
            x = block[name]
            ingest.check_finite(x, offset, name)
            finite = x[~np.isnan(x)]
            missing[name] += x.size - finite.size
            reservoir.add(finite)
            moments.add(finite)
            small.add(finite)
        for name, counts in cats.items():
            col = block[name]
            missing[name] += col.null_count
            for item in pc.value_counts(col.drop_null()).to_pylist():
                counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]
        rows += len(next(iter(block.values())))
    features, arrays = [], {}
    for i, name in enumerate(kinds):
        entry = {"name": name, "kind": kinds[name], "missing": missing[name]}
        if kinds[name] == drift.NUMERIC:
            reservoir, moments, small = numeric[name]
            if moments.n == 0:
                raise InvalidInput("A numeric feature has no values.", fields={"file": [f"column {name!r} is empty"]})
            values, counts = np.unique(reservoir.sample, return_counts=True)
            # Fill points: a tenth of the sample size, at most 10,000 (see drift.filled_grid).
            fill = min(drift.GRID_FILL, max(1_000, int(reservoir.sample.size) // 10))
            arrays[f"v{i}"], arrays[f"c{i}"] = drift.filled_grid(values, counts.astype(np.int64), fill)
            entry.update(n=moments.n, mean=moments.mean, std=moments.std, sampled=reservoir.sampled,
                         sample_size=int(reservoir.sample.size), distinct=int(values.size),
                         small=None if small.result is None else sorted([v, c] for v, c in small.result.items()))
        else:
            counts = cats[name]
            if not counts:
                raise InvalidInput("A categorical feature has no values.", fields={"file": [f"column {name!r} is empty"]})
            entry.update(n=sum(counts.values()), counts=counts, distinct=len(counts), sampled=False)
        features.append(entry)
    return features, arrays, rows


@transaction.atomic
def reference_upload(*, actor, version: ModelVersion, path: str, filename: str, sha256: str, fmt: str = "",
                     feature_types: dict | None = None, sample_cap: int | None = None) -> ReferenceProfile:
    """Summarise the reference data into a profile; the upload itself is not kept."""
    if not access.can_set_reference(actor, version):
        raise Forbidden("Only the model's data scientists set the reference, and only before production "
                        "(an administrator may replace it later).")
    sample_cap = sample_cap or DEFAULT_SAMPLE_CAP
    if sample_cap < MIN_SAMPLE_CAP:
        raise InvalidInput("Sample cap too small.", fields={"sample_cap": [f"At least {MIN_SAMPLE_CAP}."]})
    try:
        fmt = ingest.detect_format(filename, fmt)
        kinds, sources = _feature_kinds(version, path, fmt, feature_types)
        features, arrays, rows = _build_profile(path, fmt, kinds, sample_cap)
    except ingest.RowError as exc:
        raise _bad_file(exc) from exc
    for entry in features:
        entry["source"] = sources[entry["name"]]
    old = ReferenceProfile.objects.select_for_update().filter(version=version).first()
    before = {"sha256": old.sha256, "rows": old.rows} if old else {"sha256": None, "rows": None}
    if old:
        old.delete()  # batches summarised on its grid are left out of checks from now on
    profile = ReferenceProfile.objects.create(
        version=version, features=features, grid=_npz(arrays), rows=rows, sample_cap=sample_cap,
        sha256=sha256, filename=filename[:255], created_by=actor,
    )
    monitor_for(version=version)
    audit_record(action="monitoring.reference_upload", actor=actor, obj=version,
                 changes=diff(before, {"sha256": sha256, "rows": rows}) | {
                     "features": {"before": None, "after": {f["name"]: f["kind"] for f in features}}})
    return profile


@transaction.atomic
def reference_set_types(*, actor, version: ModelVersion, feature_types: dict) -> ReferenceProfile:
    """Correct inferred feature kinds from what the profile holds (no batches may exist yet:
    they were summarised as the old kind). Numeric → categorical needs every distinct value
    (an unsampled grid); categorical → numeric needs every category to be a number."""
    if not access.can_set_reference(actor, version):
        raise Forbidden("Only the model's data scientists change the reference, and only before production.")
    profile = ReferenceProfile.objects.select_for_update().filter(version=version).first()
    if profile is None:
        raise NotFound("This version has no reference profile.")
    if Batch.objects.filter(version=version, meta__profile=profile.pk).exists():
        raise Conflict("Production batches were already summarised with these kinds; upload the reference again.")
    archive = _load(profile.grid)
    arrays = {k: archive[k] for k in archive.files}
    features = [dict(f) for f in profile.features]
    changes = {}
    for name, kind in feature_types.items():
        idx = next((i for i, f in enumerate(features) if f["name"] == name), None)
        if idx is None or kind not in (drift.NUMERIC, drift.CATEGORICAL):
            raise InvalidInput("Unknown feature or kind.", fields={"feature_types": [f"{name}: {kind}"]})
        f = features[idx]
        if f["kind"] == kind:
            continue
        if kind == drift.CATEGORICAL:
            if f["sampled"]:
                raise InvalidInput("Cannot convert.", fields={"feature_types": [
                    f"{name}: the reference kept a sample of its values, not every count; upload it again as categorical."]})
            values, counts = arrays.pop(f"v{idx}"), arrays.pop(f"c{idx}")
            f = {"name": name, "kind": kind, "missing": f["missing"], "n": f["n"], "sampled": False,
                 "counts": {_category(v): int(c) for v, c in zip(values.tolist(), counts.tolist(), strict=True) if c},
                 "distinct": int((counts > 0).sum())}
        else:
            try:
                pairs = sorted((float(k), int(c)) for k, c in f["counts"].items())
            except ValueError:
                raise InvalidInput("Cannot convert.", fields={"feature_types": [f"{name}: not every category is a number."]}) from None
            values = np.array([p[0] for p in pairs])
            counts = np.array([p[1] for p in pairs], dtype=np.int64)
            mean = float(np.average(values, weights=counts))
            std = float(np.sqrt(np.average((values - mean) ** 2, weights=counts)))
            arrays[f"v{idx}"], arrays[f"c{idx}"] = values, counts
            f = {"name": name, "kind": kind, "missing": f["missing"], "n": int(counts.sum()), "mean": mean, "std": std,
                 "sampled": False, "sample_size": int(counts.sum()), "distinct": int(values.size),
                 "small": [[v, c] for v, c in pairs] if len(pairs) <= drift.SMALL_DISTINCT else None}
        f["source"] = "user"
        features[idx] = f
        changes[name] = {"before": profile.features[idx]["kind"], "after": kind}
    profile.features, profile.grid = features, _npz(arrays)
    profile.save(update_fields=["features", "grid"])
    if changes:
        audit_record(action="monitoring.reference_types", actor=actor, obj=version, changes=changes)
    return profile


def _category(v) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


# --- production batches and labels ------------------------------------------------------------


def _parse_window(window_start, window_end):
    if window_start is None or window_end is None:
        raise InvalidInput("A batch needs its time window.", fields={
            k: ["Required."] for k, v in (("window_start", window_start), ("window_end", window_end)) if v is None})
    if window_end <= window_start:
        raise InvalidInput("Empty window.", fields={"window_end": ["Must be after window_start."]})
    return window_start, window_end


def _summarise_batch(profile, path, fmt, monitor):
    features = profile.features
    present = ingest.columns_of(path, fmt)
    columns = {f["name"]: f["kind"] for f in features}
    extras = {name: drift.NUMERIC for name in ("prediction", "score", "label") if name in present}
    if "row_id" in present:
        extras["row_id"] = drift.CATEGORICAL
    archive = _load(profile.grid)
    grids = {i: archive[f"v{i}"] for i, f in enumerate(features) if f["kind"] == drift.NUMERIC}
    sums = {i: drift.NumericSummary.empty(grids[i].size) for i in grids}
    cats = {i: {} for i, f in enumerate(features) if f["kind"] == drift.CATEGORICAL}
    missing = dict.fromkeys(range(len(features)), 0)
    cbpe = {"tp": 0.0, "fp": 0.0, "fn": 0.0, "tn": 0.0}
    kept = []  # row ids and their prediction, score and label, block by block
    rows = 0
    for offset, block in ingest.read_blocks(path, fmt, columns | extras):
        n = len(next(iter(block.values())))
        for i, grid in grids.items():
            name = features[i]["name"]
            x = block[name]
            ingest.check_finite(x, offset, name)
            s = drift.summarise_numeric(grid, x)
            sums[i] = sums[i].merge(s)
        for i, counts in cats.items():
            col = block[features[i]["name"]]
            missing[i] += col.null_count
            for item in pc.value_counts(col.drop_null()).to_pylist():
                counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]
        for name in ("prediction", "score", "label"):
            if name in block:
                ingest.check_finite(block[name], offset, name)
        if "score" in block:
            ingest.check_range(block["score"], offset, "score", 0.0, 1.0)
            scores = block["score"][~np.isnan(block["score"])]
            part = performance.cbpe_sums(scores, monitor.score_threshold)
            cbpe = {k: cbpe[k] + part[k] for k in cbpe}
        if "row_id" in block:
            _check_row_ids(block["row_id"], offset)
            kept.append({"row_id": block["row_id"], **{c: block[c] for c in ("prediction", "score", "label") if c in block}})
        rows += n
    arrays, meta_features = {}, {}
    for i, f in enumerate(features):
        if i in sums:
            s = sums[i]
            arrays[f"eq{i}"], arrays[f"gap{i}"], arrays[f"sum{i}"] = s.eq, s.gap, s.gap_sum
            meta_features[f["name"]] = {"missing": rows - s.n, "n": s.n,
                                        "small": None if s.small_counts is None else sorted([v, c] for v, c in s.small_counts.items())}
        else:
            meta_features[f["name"]] = {"missing": missing[i], "n": sum(cats[i].values()), "counts": cats[i]}
    meta = {"profile": profile.pk, "features": meta_features, "cbpe": cbpe if "score" in extras else None,
            "columns": sorted(extras)}
    return rows, arrays, meta, _kept_rows(kept)


def _check_row_ids(ids: pa.Array, offset: int) -> None:
    """Every row id present and at most ROW_ID_MAX characters; the first row that is not named."""
    length = pc.utf8_length(ids).to_numpy(zero_copy_only=False)
    missing = ids.is_null().to_numpy(zero_copy_only=False) | (np.nan_to_num(length) == 0)
    long = ~missing & (np.nan_to_num(length) > ROW_ID_MAX)
    if (missing | long).any():
        j = int(np.argmax(missing | long))
        raise ingest.RowError(offset + j + 1, "row_id", "missing row id" if missing[j] else f"longer than {ROW_ID_MAX} characters")


def _first_repeat(ids: pa.Array) -> int | None:
    """Index of the first row whose id came earlier in the file, or None."""
    if pc.count_distinct(ids).as_py() == len(ids):
        return None
    numbered = pa.table({"id": ids, "i": pa.array(np.arange(len(ids)))})
    first = numbered.group_by("id", use_threads=False).aggregate([("i", "min")])["i_min"].to_numpy()
    repeat = np.ones(len(ids), bool)
    repeat[first] = False
    return int(np.argmax(repeat))


def _kept_rows(kept: list[dict]) -> pa.Table | None:
    """The rows with an id as one table (row_id, prediction, score, label; NaN → null), checked
    for ids that appear twice."""
    if not kept:
        return None
    columns = {"row_id": pa.chunked_array([k["row_id"] for k in kept], pa.string()).combine_chunks()}
    for name in ("prediction", "score", "label"):
        if name in kept[0]:
            values = np.concatenate([k[name] for k in kept])
            columns[name] = pa.array(values, pa.float64(), mask=np.isnan(values))
        else:
            columns[name] = pa.nulls(len(columns["row_id"]), pa.float64())
    table = pa.table(columns)
    j = _first_repeat(table["row_id"].combine_chunks())
    if j is not None:
        raise ingest.RowError(j + 1, "row_id", f"{table['row_id'][j].as_py()!r} appears twice in the file")
    return table


def _first_taken(version, ids: pa.Array):
    """(row, id) of the first row whose id an earlier batch of this version already sent."""
    if not Prediction.objects.filter(version=version).exists():
        return None
    taken = [row[0] for row in bulk.stored_rows(Prediction._meta.db_table, "row_id", ids, scope=("version_id", version.pk))]
    if not taken:
        return None
    j = int(np.argmax(pc.is_in(ids, value_set=pa.array(taken, pa.string())).to_numpy(zero_copy_only=False)))
    return j + 1, ids[j].as_py()


@transaction.atomic
def batch_upload(*, actor, version: ModelVersion, path: str, filename: str, sha256: str, window_start, window_end,
                 fmt: str = "") -> tuple[Batch, bool]:
    """Store one production batch as summaries. Returns (batch, created): the same content sent
    again returns the stored batch and stores nothing."""
    if not access.can_feed(actor, version):
        raise Forbidden("Only the model's data scientists (or risk officers) send production data.")
    window_start, window_end = _parse_window(window_start, window_end)
    existing = Batch.objects.filter(version=version, sha256=sha256).first()
    if existing:
        return existing, False
    profile = profile_for(version)
    if profile is None:
        raise Conflict("Upload a reference profile for this version first.")
    monitor = monitor_for(version=version)
    try:
        fmt = ingest.detect_format(filename, fmt)
        rows, arrays, meta, kept = _summarise_batch(profile, path, fmt, monitor)
        taken = _first_taken(version, kept["row_id"].combine_chunks()) if kept is not None else None
        if taken:
            raise ingest.RowError(taken[0], "row_id", f"{taken[1]!r} was sent in an earlier batch")
    except ingest.RowError as exc:
        raise _bad_file(exc) from exc
    try:
        with transaction.atomic():
            batch = Batch.objects.create(
                version=version, sha256=sha256, filename=filename[:255], format=fmt, window_start=window_start,
                window_end=window_end, rows=rows, summary=_npz(arrays), meta=meta, created_by=actor,
            )
    except IntegrityError:  # the same content, sent concurrently
        return Batch.objects.get(version=version, sha256=sha256), False
    if kept is not None:
        _store_rows(version, batch, kept, window_start)
    audit_record(action="monitoring.batch_upload", actor=actor, obj=version, changes={
        "batch": {"before": None, "after": batch.pk}, "rows": {"before": None, "after": rows},
        "window": {"before": None, "after": [window_start, window_end]}, "sha256": {"before": None, "after": sha256}})
    return batch, True


def _store_rows(version, batch, kept: pa.Table, window_start) -> None:
    n = kept.num_rows
    if isinstance(window_start, str):
        window_start = parse_datetime(window_start)
    stamp = pa.timestamp("us", tz="UTC")
    labelled_at = pc.if_else(kept["label"].is_null(), pa.scalar(None, stamp), pa.scalar(timezone.now(), stamp))
    table = kept.append_column("version_id", pa.repeat(pa.scalar(version.pk, pa.int64()), n)) \
        .append_column("batch_id", pa.repeat(pa.scalar(batch.pk, pa.int64()), n)) \
        .append_column("window_start", pa.repeat(pa.scalar(window_start, stamp), n)) \
        .append_column("labelled_at", labelled_at)
    try:
        with transaction.atomic():
            bulk.insert_rows(Prediction._meta.db_table, table)
    except IntegrityError:  # checked above; only a concurrent upload of the same ids gets here
        raise Conflict("Another upload sent some of these row ids at the same time; nothing was stored.",
                       fields={"file": ["row ids sent concurrently"]}) from None


@transaction.atomic
def labels_upload(*, actor, version: ModelVersion, path: str, filename: str, fmt: str = "") -> dict:
    """Join ground truth to rows sent before, by row id. A label, once recorded, is final: the
    upload is rejected if it would change one (re-sending the same labels changes nothing)."""
    if not access.can_feed(actor, version):
        raise Forbidden("Only the model's data scientists (or risk officers) send labels.")
    try:
        fmt = ingest.detect_format(filename, fmt)
        ids, labels = [], []
        for offset, block in ingest.read_blocks(path, fmt, {"row_id": drift.CATEGORICAL, "label": drift.NUMERIC}):
            ingest.check_finite(block["label"], offset, "label")
            no_id = block["row_id"].is_null().to_numpy(zero_copy_only=False)
            bad = no_id | np.isnan(block["label"])
            if bad.any():
                j = int(np.argmax(bad))
                raise ingest.RowError(offset + j + 1, "row_id" if no_id[j] else "label", "missing value")
            ids.append(block["row_id"])
            labels.append(block["label"])
        if not ids:
            return {"rows": 0, "labelled": 0, "already_labelled": 0}
        table = _labels_table(version, pa.chunked_array(ids, pa.string()).combine_chunks(), np.concatenate(labels))
    except ingest.RowError as exc:
        raise _bad_file(exc) from exc
    rows, new = table.num_rows, table.filter(table["new"])
    now = pa.scalar(timezone.now(), pa.timestamp("us", tz="UTC"))
    first = new.filter(new["first"])
    bulk.update_from(Prediction._meta.db_table, pa.table({
        "version_id": pa.repeat(pa.scalar(version.pk, pa.int64()), first.num_rows), "row_id": first["row_id"],
        "label": first["label"], "labelled_at": pa.repeat(now, first.num_rows),
    }), key=("version_id", "row_id"), set_columns=("label", "labelled_at"), where="t.label IS NULL")
    if new.num_rows:
        audit_record(action="monitoring.labels_upload", actor=actor, obj=version,
                     changes={"labelled": {"before": None, "after": new.num_rows}})
    return {"rows": rows, "labelled": new.num_rows, "already_labelled": rows - new.num_rows}


def _labels_table(version, ids: pa.Array, labels: np.ndarray) -> pa.Table:
    """The file's (row_id, label) with `new` (no label stored yet) and `first` (the id's first row
    in the file). Refuses, naming the first such row: an id never sent, a label that would change
    a stored one, an id twice in the file with different labels."""
    n = len(ids)
    numbered = pa.table({"row_id": ids, "i": pa.array(np.arange(n))})
    firsts = numbered.group_by("row_id", use_threads=False).aggregate([("i", "min")])
    first_row = pc.take(firsts["i_min"], pc.index_in(ids, value_set=firsts["row_id"])).to_numpy()
    differs = labels != labels[first_row]
    if differs.any():
        j = int(np.argmax(differs))
        raise ingest.RowError(j + 1, "label", f"row {ids[j].as_py()!r} appears twice with different labels")
    stored = bulk.stored_rows(Prediction._meta.db_table, "row_id", ids, ("label",), scope=("version_id", version.pk))
    position = pc.index_in(ids, value_set=pa.array([r[0] for r in stored], pa.string()))
    unknown = position.is_null().to_numpy(zero_copy_only=False)
    stored_label = pc.take(pa.array([r[1] for r in stored], pa.float64()), position)
    has_label = stored_label.is_valid().to_numpy(zero_copy_only=False)
    old = stored_label.to_numpy(zero_copy_only=False)
    changes = has_label & (old != labels)
    if (unknown | changes).any():
        j = int(np.argmax(unknown | changes))
        if unknown[j]:
            raise ingest.RowError(j + 1, "row_id", f"no row {ids[j].as_py()!r} was sent for this version")
        raise ingest.RowError(j + 1, "label", f"row {ids[j].as_py()!r} already has label {old[j]:g}")
    return pa.table({"row_id": ids, "label": pa.array(labels, pa.float64()), "new": pa.array(~has_label),
                     "first": pa.array(first_row == np.arange(n))})
