"""Describes a Zarr group as zarr-python and xarray see it, as JSON on stdout, for
tests/zarr_groups.rs to compare exactly with what chunkwise wrote.

usage: group_check.py STORE [GROUP]

Floats are printed exactly (Python's repr round-trips); NaN is the string "NaN". The
"xarray" entry is null when xarray is not installed.
"""

import json
import math
import sys

import numpy as np
import zarr


def value(x):
    x = x.item() if hasattr(x, "item") else x
    if isinstance(x, float) and math.isnan(x):
        return "NaN"
    return x


def values(a):
    return [value(v) for v in np.asarray(a).ravel()]


def plain(attrs):
    return json.loads(json.dumps(dict(attrs), default=str))


def tree(group):
    return {
        "attributes": plain(group.attrs),
        "arrays": {
            name: {
                "shape": list(a.shape),
                "dtype": str(a.dtype),
                "values": values(a[...]),
                "attributes": plain(a.attrs),
                "fill_value": value(a.fill_value),
            }
            for name, a in group.arrays()
        },
        "groups": {name: tree(sub) for name, sub in group.groups()},
    }


def dataset(ds):
    return {
        "attrs": plain(ds.attrs),
        "dims": dict(ds.sizes),
        "coords": sorted(ds.coords),
        "variables": {
            name: {
                "dims": list(v.dims),
                "dtype": str(v.dtype),
                "values": values(v.values),
                "attrs": plain(v.attrs),
            }
            for name, v in ds.variables.items()
        },
    }


def main():
    store = sys.argv[1]
    path = sys.argv[2] if len(sys.argv) > 2 else None
    out = {"zarr": tree(zarr.open_group(store, path=path, mode="r"))}
    try:
        consolidated = zarr.open_consolidated(store, path=path, mode="r")
        out["consolidated_arrays"] = sorted(name for name, _ in consolidated.arrays())
    except Exception as e:  # noqa: BLE001 - reported to the test
        out["consolidated_arrays"] = f"error: {e}"
    try:
        import xarray as xr
    except ImportError:
        out["xarray"] = None
    else:
        # Through consolidated metadata (xarray reads a nested group's at the store's
        # root) and without it must agree.
        ds = dataset(xr.open_zarr(store, group=path, consolidated=True))
        again = dataset(xr.open_zarr(store, group=path, consolidated=False))
        out["xarray"] = ds
        out["xarray_unconsolidated_agrees"] = ds == again
    print(json.dumps(out))


main()
