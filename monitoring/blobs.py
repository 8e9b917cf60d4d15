"""The binary format of stored summaries (reference grids, batch summaries): a JSON index, then
each numpy array's bytes compressed with zstd. No Django."""

import json

import numpy as np
import pyarrow as pa


def pack(arrays: dict) -> bytes:
    """Arrays as one blob: a JSON index, then each array's bytes compressed with zstd (fast
    enough not to show in an upload; numpy's zlib took seconds per batch)."""
    index, parts, offset = {}, [], 0
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        packed = pa.compress(array.tobytes(), codec="zstd", asbytes=True)
        index[name] = [array.dtype.str, array.shape[0], offset, len(packed), array.nbytes]
        parts.append(packed)
        offset += len(packed)
    header = json.dumps(index).encode()
    return len(header).to_bytes(8, "little") + header + b"".join(parts)


class _Unpacked:
    """Lazy view of a blob made by `pack`: `archive[name]` decompresses that array only."""

    def __init__(self, blob):
        self.blob = memoryview(bytes(blob))
        size = int.from_bytes(self.blob[:8], "little")
        self.index = json.loads(bytes(self.blob[8:8 + size]))
        self.base = 8 + size

    @property
    def files(self):
        return list(self.index)

    def __getitem__(self, name):
        dtype, length, offset, packed, raw = self.index[name]
        start = self.base + offset
        data = pa.decompress(self.blob[start:start + packed], decompressed_size=raw, codec="zstd", asbytes=True)
        return np.frombuffer(data, dtype=np.dtype(dtype), count=length)


def unpack(blob) -> _Unpacked:
    return _Unpacked(blob)
