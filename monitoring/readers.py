"""Read uploaded tables (CSV, NDJSON, Parquet) in blocks with pyarrow, naming the first bad row.

No Django. Files are read block by block, so memory stays bounded by the block size whatever the
file's size. Rows are numbered from 1 (the first data row; a CSV header is not a row).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from .drift import CATEGORICAL, NUMERIC

FORMATS = ("csv", "ndjson", "parquet")
BLOCK_BYTES = 8 << 20
NDJSON_LINES = 50_000
PARQUET_ROWS = 131_072

NUMERIC_TYPES = {"double", "float", "float32", "float64", "long", "integer", "int", "int32", "int64", "number", "numeric"}
CATEGORICAL_TYPES = {"string", "str", "category", "categorical", "boolean", "bool", "binary"}


class RowError(ValueError):
    def __init__(self, row: int | None, column: str | None, reason: str):
        self.row, self.column, self.reason = row, column, reason
        where = f"row {row}" if row is not None else "file"
        super().__init__(f"{where}{f', column {column!r}' if column else ''}: {reason}")


def detect_format(filename: str, declared: str = "") -> str:
    if declared:
        if declared not in FORMATS:
            raise RowError(None, None, f"unknown format {declared!r}; use one of {', '.join(FORMATS)}")
        return declared
    name = filename.lower()
    for ext, fmt in ((".csv", "csv"), (".ndjson", "ndjson"), (".jsonl", "ndjson"), (".json", "ndjson"),
                     (".parquet", "parquet"), (".pq", "parquet")):
        if name.endswith(ext):
            return fmt
    raise RowError(None, None, "cannot tell the format from the file name; give format=csv|ndjson|parquet")


def signature_types(signature) -> dict:
    """Feature kinds from a version's input signature: MLflow's {"inputs": [{"name", "type"}]}
    (also as a JSON string) or a flat {name: type}. Unknown types are left to inference."""
    if isinstance(signature, dict) and "inputs" in signature:
        inputs = signature["inputs"]
        if isinstance(inputs, str):
            try:
                inputs = json.loads(inputs)
            except ValueError:
                inputs = []
        pairs = [(i.get("name"), i.get("type")) for i in inputs if isinstance(i, dict)]
    elif isinstance(signature, dict):
        pairs = list(signature.items())
    else:
        pairs = []
    out = {}
    for name, typ in pairs:
        if not isinstance(name, str) or not isinstance(typ, str):
            continue
        if typ.lower() in NUMERIC_TYPES:
            out[name] = NUMERIC
        elif typ.lower() in CATEGORICAL_TYPES:
            out[name] = CATEGORICAL
    return out


def columns_of(path: str, fmt: str) -> dict:
    """Column name → inferred kind, from the first block."""
    if fmt == "parquet":
        schema = pq.ParquetFile(path).schema_arrow
    elif fmt == "csv":
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 20))
        schema = reader.schema
    else:
        with open(path, "rb") as fh:
            head = b"".join(line for _, line in zip(range(1000), fh, strict=False))
        try:
            schema = pajson.read_json(io.BytesIO(head)).schema
        except pa.ArrowInvalid:
            return _ndjson_head_kinds(head)
    return {f.name: NUMERIC if (pa.types.is_integer(f.type) or pa.types.is_floating(f.type)) else CATEGORICAL
            for f in schema}


def _ndjson_object(row: int, line: bytes) -> dict:
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise RowError(row, None, f"not a JSON object: {exc}") from None
    if not isinstance(obj, dict):
        raise RowError(row, None, "not a JSON object")
    return obj


def _ndjson_head_kinds(head: bytes) -> dict:
    """Kinds from the first lines when pyarrow cannot infer one type per column (mixed values):
    numeric only if every value seen is a number. The reader then names the offending row."""
    kinds = {}
    for row, line in enumerate(head.splitlines(), start=1):
        if not line.strip():
            continue
        obj = _ndjson_object(row, line)
        for key, value in obj.items():
            number = value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
            kinds[key] = NUMERIC if number and kinds.get(key, NUMERIC) == NUMERIC else CATEGORICAL
    return kinds


def _arrow_type(kind: str):
    return pa.float64() if kind == NUMERIC else pa.string()


def _first_bad_number(values: list, offset: int, column: str):
    for i, v in enumerate(values):
        if v is None or v == "":
            continue
        try:
            float(v)
        except (TypeError, ValueError):
            raise RowError(offset + i + 1, column, f"not a number: {v!r}") from None
    raise RowError(None, column, "values that are not numbers")


def _to_numpy(col: pa.Array | pa.ChunkedArray, kind: str):
    if kind != NUMERIC:
        return col
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if col.null_count == 0 and col.type == pa.float64():
        # Zero-copy: pyarrow copies whenever a validity buffer exists, even with no nulls.
        return np.frombuffer(col.buffers()[1], dtype=np.float64, count=len(col), offset=col.offset * 8)
    return col.to_numpy(zero_copy_only=False).astype(float, copy=False)  # nulls → NaN


def read_blocks(path: str, fmt: str, columns: dict) -> Iterator[tuple[int, dict]]:
    """Yield (rows before this block, {column: values}) for the wanted `columns` (name → kind).

    Numeric values come as float arrays (missing → NaN), others as pyarrow string arrays.
    Raises RowError on the first row that does not fit, or on a missing column.
    """
    if fmt == "csv":
        yield from _read_csv(path, columns)
    elif fmt == "ndjson":
        yield from _read_ndjson(path, columns)
    elif fmt == "parquet":
        yield from _read_parquet(path, columns)
    else:
        raise RowError(None, None, f"unknown format {fmt!r}")


def _missing_columns(present, columns):
    missing = [c for c in columns if c not in present]
    if missing:
        raise RowError(None, missing[0], "column missing from the file")


def _read_csv(path, columns):
    try:
        head = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 16))
    except pa.ArrowInvalid as exc:
        raise RowError(None, None, f"not a CSV file: {exc}") from exc
    _missing_columns(head.schema.names, columns)
    types = {name: _arrow_type(kind) for name, kind in columns.items()}
    convert = pacsv.ConvertOptions(column_types=types, include_columns=list(columns), strings_can_be_null=True)
    offset = 0
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES), convert_options=convert)
        for batch in reader:
            yield offset, {name: _to_numpy(batch.column(name), kind) for name, kind in columns.items()}
            offset += batch.num_rows
    except pa.ArrowInvalid as exc:
        _locate_csv_error(path, columns, exc)


def _locate_csv_error(path, columns, exc):
    """The fast reader failed somewhere; read as text to name the row (error path only)."""
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in columns}, include_columns=list(columns))
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 20), convert_options=convert)
        offset = 0
        for batch in reader:
            for name, kind in columns.items():
                if kind == NUMERIC:
                    try:
                        pc.cast(batch.column(name), pa.float64())
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                        _first_bad_number(batch.column(name).to_pylist(), offset, name)
            offset += batch.num_rows
    except pa.ArrowInvalid as inner:
        raise RowError(None, None, f"CSV not readable after row {offset}: {inner}") from inner
    raise RowError(None, None, f"CSV not readable: {exc}")


def _read_ndjson(path, columns):
    schema = pa.schema([(name, _arrow_type(kind)) for name, kind in columns.items()])
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    offset = 0
    with open(path, "rb") as fh:
        while True:
            lines = [line for _, line in zip(range(NDJSON_LINES), fh, strict=False)]
            if not lines:
                return
            try:
                table = pajson.read_json(io.BytesIO(b"".join(lines)), parse_options=options)
            except pa.ArrowInvalid:
                _locate_ndjson_error(lines, offset, columns)
                raise
            if offset == 0:
                seen = set()
                for line in lines[:100]:
                    try:
                        seen |= set(json.loads(line))
                    except ValueError:
                        break
                _missing_columns(seen, columns)
            yield offset, {name: _to_numpy(table.column(name), kind) for name, kind in columns.items()}
            offset += table.num_rows


def _locate_ndjson_error(lines, offset, columns):
    row = offset
    for line in lines:
        if not line.strip():
            continue
        row += 1
        obj = _ndjson_object(row, line)
        for name, kind in columns.items():
            value = obj.get(name)
            if kind == NUMERIC and value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise RowError(row, name, f"not a number: {value!r}")
            if kind == CATEGORICAL and value is not None and isinstance(value, (dict, list)):
                raise RowError(row, name, "a nested value where a category was expected")


def _read_parquet(path, columns):
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise RowError(None, None, f"not a Parquet file: {exc}") from exc
    schema = pf.schema_arrow
    _missing_columns(schema.names, columns)
    for name, kind in columns.items():
        typ = schema.field(name).type
        if kind == NUMERIC and not (pa.types.is_integer(typ) or pa.types.is_floating(typ)):
            raise RowError(None, name, f"has type {typ}, a number was expected")
    offset = 0
    # About 16 M cells per block: wide files read in fewer rows at a time.
    rows = max(1024, min(PARQUET_ROWS, (1 << 24) // max(1, len(columns))))
    for batch in pf.iter_batches(batch_size=rows, columns=list(columns)):
        out = {}
        for name, kind in columns.items():
            col = batch.column(name)
            out[name] = _to_numpy(col, kind) if kind == NUMERIC else pc.cast(col, pa.string())
        yield offset, out
        offset += batch.num_rows


def check_finite(values: np.ndarray, offset: int, column: str) -> None:
    bad = np.isinf(values)
    if bad.any():
        raise RowError(offset + int(np.argmax(bad)) + 1, column, "infinite value")


def check_range(values: np.ndarray, offset: int, column: str, low: float, high: float) -> None:
    bad = (values < low) | (values > high)
    if bad.any():
        i = int(np.argmax(bad))
        raise RowError(offset + i + 1, column, f"{values[i]} is outside [{low}, {high}]")


def check_binary(values: np.ndarray, offset: int, column: str) -> None:
    bad = ~np.isnan(values) & (values != 0) & (values != 1)
    if bad.any():
        i = int(np.argmax(bad))
        raise RowError(offset + i + 1, column, f"{values[i]} is not 0 or 1")


def finite_or_none(x) -> float | None:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)
