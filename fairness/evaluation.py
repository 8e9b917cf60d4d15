"""Reading an evaluation set (CSV or Parquet) in chunks: validation and aggregation in one pass.

Pure pyarrow/numpy, no Django. Columns: `prediction` and `label` (0/1, true/false), `score`
(optional, a probability in [0, 1]; empty = missing), and one column per attribute the use case
names. Other columns are ignored. Row numbers count data rows from 1 (CSV: the first line after
the header). Memory holds one chunk, never the file.
"""

from __future__ import annotations

import csv

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .metrics import Aggregator

BINARY_TOKENS = pa.array(["0", "1", "false", "true", "0.0", "1.0"])
MAX_ERRORS = 50
CHUNK_BYTES = 1 << 20
CHUNK_ROWS = 1 << 17


class EvaluationSetError(ValueError):
    """The file as a whole cannot be read (format, missing columns)."""

    def __init__(self, message: str, field: str = "file"):
        super().__init__(message)
        self.field = field


def _rewind(source):
    if hasattr(source, "seek"):
        source.seek(0)
    return source


def _batches(path, fmt: str, columns: list[str]):
    """`path`: a file name or a binary file object (read from its start)."""
    if fmt == "parquet":
        try:
            reader = pq.ParquetFile(_rewind(path))
        except Exception as exc:
            raise EvaluationSetError(f"Not a readable Parquet file: {exc}") from exc
        present = reader.schema_arrow.names
        _require(columns, present)
        yield from reader.iter_batches(batch_size=CHUNK_ROWS, columns=[c for c in columns if c in present])
        return
    present = _csv_header(path)
    _require(columns, present)
    wanted = [c for c in columns if c in present]
    source = _rewind(path) if hasattr(path, "read") else open(path, "rb")  # noqa: SIM115 - closed below
    try:
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(block_size=CHUNK_BYTES, use_threads=False),
            convert_options=pacsv.ConvertOptions(include_columns=wanted, column_types={c: pa.string() for c in wanted},
                                                  strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        if source is not path:
            source.close()
        raise EvaluationSetError(f"Not a readable CSV file: {exc}") from exc
    try:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowInvalid as exc:
                raise EvaluationSetError(f"The CSV file is malformed: {exc}") from exc
            yield batch
    finally:
        reader.close()
        if source is not path:
            source.close()


def _csv_header(path) -> list[str]:
    """The header's column names, read with the csv module: a second pyarrow reader would read
    ahead through the file."""
    source = _rewind(path) if hasattr(path, "read") else open(path, "rb")
    try:
        first = source.readline(1 << 20).decode("utf-8-sig")
        return next(csv.reader([first]), [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise EvaluationSetError(f"Not a readable CSV file: {exc}") from exc
    finally:
        if source is not path:
            source.close()


def _require(columns, present):
    missing = [c for c in columns if c not in present and c != "score"]
    if missing:
        raise EvaluationSetError("Missing column(s): " + ", ".join(missing), field="columns")


def _as_string(col: pa.Array) -> pa.Array:
    return col if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) else pc.cast(col, pa.string())


def _binary(col: pa.Array):
    """(values 0/1 as int8, valid mask)."""
    idx = pc.index_in(pc.utf8_lower(pc.utf8_trim_whitespace(_as_string(col))), value_set=BINARY_TOKENS)
    valid = ~np.asarray(idx.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    values = np.asarray(pc.fill_null(idx, 0).to_numpy(zero_copy_only=False)) % 2
    return values.astype(np.int8), valid


def _score(col: pa.Array):
    """(floats with NaN for missing, valid mask)."""
    if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
        values = np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    else:
        text = pc.utf8_trim_whitespace(_as_string(col))
        empty = pc.fill_null(pc.equal(text, ""), True)
        try:
            values = np.asarray(pc.cast(pc.if_else(empty, None, text), pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = np.array([_float_or_inf(v) for v in pc.if_else(empty, None, text).to_pylist()], dtype=float)
    with np.errstate(invalid="ignore"):
        valid = np.isnan(values) | ((values >= 0) & (values <= 1))
    return np.where(valid, values, np.nan), valid


def _float_or_inf(v):
    if v is None:
        return np.nan
    try:
        x = float(v)
    except ValueError:
        return np.inf  # not a number: reported as invalid
    return x if np.isfinite(x) else np.inf


def scan(path: str, fmt: str, *, attributes: list[str], aggregator: Aggregator | None = None,
         max_errors: int = MAX_ERRORS) -> tuple[int, int, list[str]]:
    """Read the file once: validate every row, and feed the valid chunks to `aggregator` (when
    given; it is only fed if no row was bad so far). Returns (rows, bad rows, first messages)."""
    columns = ["prediction", "label", "score", *attributes]
    rows = bad = 0
    messages: list[str] = []
    for batch in _batches(path, fmt, columns):
        n = batch.num_rows
        names = batch.schema.names
        pred, pred_ok = _binary(batch.column(names.index("prediction")))
        label, label_ok = _binary(batch.column(names.index("label")))
        if "score" in names:
            score, score_ok = _score(batch.column(names.index("score")))
        else:
            score, score_ok = None, np.ones(n, dtype=bool)
        problems = [("prediction", ~pred_ok, "must be 0 or 1"), ("label", ~label_ok, "must be 0 or 1"),
                    ("score", ~score_ok, "must be a number from 0 to 1 or empty")]
        groups = {}
        for attr in attributes:
            col = _as_string(batch.column(names.index(attr)))
            trimmed = pc.utf8_trim_whitespace(col)
            missing = np.asarray(pc.fill_null(pc.equal(trimmed, ""), True).to_numpy(zero_copy_only=False), dtype=bool)
            problems.append((attr, missing, "is empty"))
            encoded = pc.dictionary_encode(trimmed).combine_chunks() if isinstance(trimmed, pa.ChunkedArray) else pc.dictionary_encode(trimmed)
            groups[attr] = (np.asarray(pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False)),
                            encoded.dictionary.to_pylist())
        bad_mask = np.zeros(n, dtype=bool)
        for _field, mask, _reason in problems:
            bad_mask |= mask
        if bad_mask.any():
            for i in np.flatnonzero(bad_mask):
                bad += 1
                if len(messages) < max_errors:
                    reasons = [f"{f} {r}" for f, m, r in problems if m[i]]
                    messages.append(f"row {rows + i + 1}: " + "; ".join(reasons))
        elif aggregator is not None and bad == 0:
            aggregator.add(label=label, prediction=pred, score=score, groups=groups)
        rows += n
    return rows, bad, messages
