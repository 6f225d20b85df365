#!/usr/bin/env python3
"""Names that URLs percent-encode, through zarr-python and fsspec on S3 (tests/zarr_s3.rs).

    s3_names.py read  ENDPOINT URL   print {"arrays": sorted names, "values": {name: list}}
    s3_names.py write ENDPOINT URL NAME...   write each NAME as arange(4) * (its index + 1)

ENDPOINT is the S3 server, URL the store (`s3://bucket/path`); arrays are Zarr v3, f64.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import zarr  # noqa: E402
from s3_check import storage_options  # noqa: E402


def main(mode, endpoint, url, *names):
    options = storage_options(endpoint)
    if mode == "write":
        root = zarr.open_group(store=url, mode="w", storage_options=options)
        for k, name in enumerate(names):
            root.create_array(name, shape=(4,), chunks=(2,), dtype="f8")[...] = np.arange(4.0) * (k + 1)
        return
    root = zarr.open_group(store=url, mode="r", storage_options=options, use_consolidated=False)
    arrays = sorted(name for name, _ in root.arrays())
    values = {name: root[name][...].tolist() for name in arrays}
    print(json.dumps({"arrays": arrays, "values": values}))


main(*sys.argv[1:])
