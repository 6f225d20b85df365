#!/usr/bin/env python3
"""zarr-python on S3 (through fsspec's s3fs), the independent client of chunkwise's object
storage tests (tests/zarr_s3.rs).

    s3_check.py read  ENDPOINT URL VERSION   check the arrays chunkwise wrote under URL
    s3_check.py write ENDPOINT URL VERSION   write arrays under URL for chunkwise to read

ENDPOINT is the S3 server (`http://127.0.0.1:PORT`), URL the store (`s3://bucket/path`),
VERSION 2 or 3. The arrays and their values are zarr_check.py's (zstd level 3). Exits
non-zero with a message on any mismatch.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import zarr  # noqa: E402
from zarr_check import ARRAYS, compressors, dims, formula, same  # noqa: E402

KEY, SECRET = "chunkwise-test", "chunkwise-secret"


def storage_options(endpoint):
    return {"endpoint_url": endpoint, "key": KEY, "secret": SECRET, "client_kwargs": {"region_name": "us-east-1"}}


def read(endpoint, url, version):
    failures = []
    for name, dtype, shape, chunks, _ in ARRAYS:
        arr = zarr.open_array(store=url, path=name, mode="r", storage_options=storage_options(endpoint))
        if arr.metadata.zarr_format != version:
            failures.append(f"{name}: zarr_format {arr.metadata.zarr_format}")
        if arr.chunks != tuple(chunks):
            failures.append(f"{name}: chunks {arr.chunks} != {chunks}")
        if not same(arr[...], formula(dtype, shape)):
            failures.append(f"{name}: values differ")
        sel = tuple(slice(1, None, 2) for _ in shape)
        if not same(arr[sel], formula(dtype, shape)[sel]):
            failures.append(f"{name}[1::2]: values differ")
    return failures


def write(endpoint, url, version):
    for name, dtype, shape, chunks, _ in ARRAYS:
        kwargs = {"dimension_names": dims(len(shape))} if version == 3 else {}
        arr = zarr.create_array(
            store=url,
            name=name,
            shape=shape,
            dtype=dtype,
            chunks=chunks,
            compressors=compressors(version, "zstd"),
            zarr_format=version,
            storage_options=storage_options(endpoint),
            **kwargs,
        )
        arr[...] = formula(dtype, shape)
    return []


def main(argv):
    if len(argv) != 5 or argv[1] not in ("read", "write"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, endpoint, url, version = argv[1], argv[2], argv[3], int(argv[4])
    failures = (read if mode == "read" else write)(endpoint, url, version)
    for f in failures:
        print(f"s3_check: MISMATCH {f}", file=sys.stderr)
    if failures:
        return 1
    print(f"s3_check: {mode} v{version}: ok (zarr {zarr.__version__}, numpy {np.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
