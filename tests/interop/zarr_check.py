#!/usr/bin/env python3
"""The independent Zarr client of chunkwise's interop tests (tests/zarr_interop.rs).

    zarr_check.py read  STORE CASE   check the arrays chunkwise wrote into STORE
    zarr_check.py write STORE CASE   write arrays into STORE for chunkwise to read

CASE is `v2_<codec>`, `v3_<codec>` or `v3_sharded_<codec>`, with codec one of plain, zstd,
blosc (lz4, byte shuffle) and gzip.

Expected values come from formulas evaluated here with NumPy, mirroring (not sharing code
with) tests/common/zarr_util.rs; random data chunkwise wrote is compared against a raw
little-endian file next to the store. Exits non-zero with a message on any mismatch.
"""

import json
import os
import sys

try:
    import numpy as np
    import zarr
except ImportError as e:  # pragma: no cover
    print(
        f"zarr_check: {e}; set up with: python3 -m venv target/zarr-venv && "
        "target/zarr-venv/bin/pip install 'zarr==3.1.*' numpy",
        file=sys.stderr,
    )
    sys.exit(2)

# name, dtype, shape, chunks, shards (when sharded)
ARRAYS = [
    ("f64_2d", "float64", (13, 9), (4, 4), (8, 8)),
    ("f32_1d", "float32", (23,), (5,), (10,)),
    ("i32_3d", "int32", (5, 6, 7), (2, 4, 3), (4, 4, 6)),
    ("u8_2d", "uint8", (10, 12), (3, 5), (6, 10)),
    ("bool_2d", "bool", (7, 11), (3, 4), (6, 8)),
]

# Arrays with chunks never written: shape, chunks, shards, and the regions written.
MISSING_SHAPE, MISSING_CHUNKS, MISSING_SHARDS = (24, 10), (4, 5), (8, 10)
MISSING_REGIONS = [(slice(0, 4), slice(0, 10)), (slice(20, 24), slice(5, 10))]
MISSING = [
    ("missing_f64", "float64", -1.5),
    ("missing_f32_nan", "float32", float("nan")),
    ("missing_i32", "int32", 7),
]

failures = []


def check(ok, message):
    if not ok:
        failures.append(message)


def formula(dtype, shape):
    """The value at each C-order flat index i (see tests/common/zarr_util.rs)."""
    n = int(np.prod(shape, dtype=np.int64))
    i = np.arange(n, dtype=np.int64)
    if dtype == "float64":
        v = ((i * 37) % 101) / 7.0 - 3.0
    elif dtype == "float32":
        v = ((i * 37) % 101).astype(np.float32) / np.float32(7.0) - np.float32(3.0)
    elif dtype == "int32":
        v = ((i * 7919) % 2001 - 1000).astype(np.int32)
    elif dtype == "uint8":
        v = ((i * 13) % 256).astype(np.uint8)
    elif dtype == "bool":
        v = (i % 3 == 0) | (i % 7 == 0)
    else:
        raise ValueError(dtype)
    assert v.dtype == np.dtype(dtype), (v.dtype, dtype)
    return v.reshape(shape)


def dims(ndim):
    return ["z", "y", "x"][3 - ndim :]


def attributes(case, name):
    return {"case": case, "name": name, "units": "m", "scale": 0.5, "nested": {"a": [1, 2, 3], "b": None}}


def parse(case):
    parts = case.split("_")
    if len(parts) not in (2, 3) or parts[0] not in ("v2", "v3") or parts[-1] not in ("plain", "zstd", "blosc", "gzip"):
        raise SystemExit(f"zarr_check: unknown case {case!r}")
    version = int(parts[0][1])
    sharded = len(parts) == 3
    if sharded and (version != 3 or parts[1] != "sharded"):
        raise SystemExit(f"zarr_check: unknown case {case!r}")
    return version, sharded, parts[-1]


def compressors(version, codec):
    if codec == "plain":
        return None
    if version == 3:
        from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec

        return {
            "zstd": ZstdCodec(level=3),
            "blosc": BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),
            "gzip": GzipCodec(level=5),
        }[codec]
    import numcodecs

    return {
        "zstd": numcodecs.Zstd(level=3),
        "blosc": numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE),
        "gzip": numcodecs.GZip(level=5),
    }[codec]


def same(found, expected):
    """Exactly equal: shape, dtype and every bit (NaN payloads aside: NaN equals NaN)."""
    if found.shape != expected.shape or found.dtype != expected.dtype:
        return False
    if found.dtype.kind == "f":
        return bool(np.array_equal(found, expected, equal_nan=True)) and bool(
            np.array_equal(np.signbit(found), np.signbit(expected))
        )
    return bool(np.array_equal(found, expected))


def compare(what, found, expected):
    if not same(found, expected):
        detail = ""
        if found.shape == expected.shape:
            equal = found == expected
            if found.dtype.kind == "f" and expected.dtype.kind == "f":
                equal |= np.isnan(found) & np.isnan(expected)
            bad = np.argwhere(~equal)
            if len(bad):
                idx = tuple(bad[0])
                detail = f"; first difference at {idx}: found {found[idx]!r}, expected {expected[idx]!r}"
        check(False, f"{what}: values differ (found {found.dtype}{found.shape}, expected {expected.dtype}{expected.shape}){detail}")


# ---------------------------------------------------------------------------------------
# read: arrays chunkwise wrote


def raw_metadata(store, name, version):
    path = os.path.join(store, name, "zarr.json" if version == 3 else ".zarray")
    with open(path) as f:
        return json.load(f)


def codec_names(store, name, version, sharded):
    """The compression codecs in the raw metadata (not through zarr-python's objects)."""
    meta = raw_metadata(store, name, version)
    if version == 2:
        return [] if meta.get("compressor") is None else [meta["compressor"]["id"]]
    codecs = meta["codecs"]
    if sharded:
        check(codecs[0]["name"] == "sharding_indexed", f"{name}: codecs {codecs}")
        codecs = codecs[0]["configuration"]["codecs"]
    return [c["name"] for c in codecs if c["name"] not in ("bytes", "transpose")]


def check_read(store, case, name, dtype, shape, chunks, shards, expected, names=None):
    version, sharded, codec = parse(case)
    what = f"{case}/{name}"
    try:
        arr = zarr.open_array(store=store, path=name, mode="r")
    except Exception as e:  # noqa: BLE001
        check(False, f"{what}: zarr.open_array failed: {type(e).__name__}: {e}")
        return
    check(arr.metadata.zarr_format == version, f"{what}: zarr_format {arr.metadata.zarr_format}")
    check(arr.shape == tuple(shape), f"{what}: shape {arr.shape} != {shape}")
    check(arr.dtype == np.dtype(dtype), f"{what}: dtype {arr.dtype} != {dtype}")
    check(arr.chunks == tuple(chunks), f"{what}: chunks {arr.chunks} != {chunks}")
    if sharded:
        check(arr.shards == tuple(shards), f"{what}: shards {arr.shards} != {shards}")
    else:
        check(arr.shards is None, f"{what}: unexpected shards {arr.shards}")
    want = [] if codec == "plain" else [codec]
    got = codec_names(store, name, version, sharded)
    check(got == want, f"{what}: compression codecs {got} != {want}")

    compare(what, arr[...], expected)
    # A partial read through zarr-python too.
    sel = tuple(slice(1, None, 2) for _ in shape)
    compare(f"{what}[1::2, ...]", arr[sel], expected[sel])

    attrs = dict(arr.attrs)
    names = names if names is not None else dims(len(shape))
    if version == 3:
        found = arr.metadata.dimension_names
        check(found is not None and list(found) == names, f"{what}: dimension_names {found} != {names}")
    else:
        found = attrs.pop("_ARRAY_DIMENSIONS", None)
        check(found == names, f"{what}: _ARRAY_DIMENSIONS {found} != {names}")
    # zarrs (under chunkwise) adds its own `_zarrs` attribute; the Rust suite checks that.
    attrs.pop("_zarrs", None)
    want = attributes(case, name)
    check(attrs == want, f"{what}: attributes {attrs} != {want}")


def read(store, case):
    version, sharded, codec = parse(case)
    for name, dtype, shape, chunks, shards in ARRAYS:
        check_read(store, case, name, dtype, shape, chunks, shards, formula(dtype, shape))
    # Random values: the exact bits chunkwise computed, dumped raw next to the store.
    raw = os.path.join(os.path.dirname(os.path.abspath(store)), "random_f64.le")
    expected = np.fromfile(raw, dtype="<f8").reshape(13, 9)
    check_read(store, case, "random_f64", "float64", (13, 9), (4, 4), (8, 8), expected)
    # Tiles [5, 3] in chunkwise, stored in chunks [4, 4].
    check_read(store, case, "rechunked_f64", "float64", (17, 11), (4, 4), (8, 8), formula("float64", (17, 11)))


# ---------------------------------------------------------------------------------------
# write: arrays for chunkwise to read


def create(store, case, name, dtype, shape, chunks, shards, **kwargs):
    version, sharded, codec = parse(case)
    names = kwargs.pop("dimension_names", dims(len(shape)))
    attrs = attributes(case, name)
    if version == 2:
        attrs["_ARRAY_DIMENSIONS"] = names
    else:
        kwargs["dimension_names"] = names
    return zarr.create_array(
        store=store,
        name=name,
        shape=shape,
        dtype=dtype,
        chunks=chunks,
        shards=shards if sharded else None,
        compressors=compressors(version, codec),
        zarr_format=version,
        attributes=attrs,
        **kwargs,
    )


def chunk_key(case, name, index):
    version, sharded, _ = parse(case)
    if version == 2:
        return os.path.join(name, ".".join(map(str, index)))
    return os.path.join(name, "c", *map(str, index))


def write(store, case):
    version, sharded, codec = parse(case)
    for name, dtype, shape, chunks, shards in ARRAYS:
        arr = create(store, case, name, dtype, shape, chunks, shards)
        arr[...] = formula(dtype, shape)

    for name, dtype, fill in MISSING:
        arr = create(store, case, name, dtype, MISSING_SHAPE, MISSING_CHUNKS, MISSING_SHARDS, fill_value=fill)
        values = formula(dtype, MISSING_SHAPE)
        for region in MISSING_REGIONS:
            arr[region] = values[region]
        # Rows 8..16 were never written: no chunk (nor shard) exists there.
        absent = chunk_key(case, name, (1, 0) if sharded else (2, 0))
        check(not os.path.exists(os.path.join(store, absent)), f"{case}/{name}: {absent} exists")
        present = chunk_key(case, name, (0, 0))
        check(os.path.exists(os.path.join(store, present)), f"{case}/{name}: {present} missing")

    if version == 2:
        # Column-major chunks.
        for name, dtype, shape, chunks in [("order_f_f64", "float64", (13, 9), (4, 4)), ("order_f_i32_3d", "int32", (5, 6, 7), (2, 4, 3))]:
            arr = create(store, case, name, dtype, shape, chunks, None, order="F")
            check(raw_metadata(store, name, 2)["order"] == "F", f"{case}/{name}: not order F")
            arr[...] = formula(dtype, shape)
        # Big-endian data types.
        for name, dtype, shape, chunks in [("big_endian_i32", ">i4", (5, 6, 7), (2, 4, 3)), ("big_endian_f64", ">f8", (13, 9), (4, 4))]:
            arr = create(store, case, name, dtype, shape, chunks, None)
            check(raw_metadata(store, name, 2)["dtype"] == dtype, f"{case}/{name}: dtype not {dtype}")
            arr[...] = formula(np.dtype(dtype).newbyteorder("=").name, shape)
        # `/` as the dimension separator.
        arr = create(
            store, case, "slash_u8", "uint8", (10, 12), (3, 5), None, chunk_key_encoding={"name": "v2", "separator": "/"}
        )
        arr[...] = formula("uint8", (10, 12))
        check(os.path.exists(os.path.join(store, "slash_u8", "0", "0")), f"{case}/slash_u8: no chunk 0/0")
    else:
        # A dimension without a name.
        arr = create(store, case, "unnamed_f64", "float64", (13, 9), (4, 4), (8, 8), dimension_names=["y", None])
        arr[...] = formula("float64", (13, 9))


def main(argv):
    if len(argv) != 4 or argv[1] not in ("read", "write"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, store, case = argv[1:]
    parse(case)
    try:
        (read if mode == "read" else write)(store, case)
    except Exception as e:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        failures.append(f"{mode} {case}: {type(e).__name__}: {e}")
    if failures:
        for f in failures:
            print(f"zarr_check: MISMATCH {f}", file=sys.stderr)
        return 1
    print(f"zarr_check: {mode} {case}: ok (zarr {zarr.__version__}, numpy {np.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
