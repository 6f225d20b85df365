"""Writes CF-packed variables with xarray, as netCDF-derived stores hold them, and prints
xarray's decoded values as JSON, for tests/zarr_groups.rs to compare exactly with what
chunkwise's `AnyArray::decode_cf` gives.

usage: cf_packed.py STORE ZARR_FORMAT

Variables: `t` int16 with scale_factor, add_offset and _FillValue; `n` uint8 with
scale_factor and missing_value only; `q` float32 with a float _FillValue; `w` float64
without any packing; `f` int16 that zarr-python wrote with a `_FillValue` attribute beside
a Zarr v2 `fill_value` of null (xarray masks by the attribute then). Floats are printed exactly (repr round-trips); NaN is "NaN".
"""

import json
import math
import sys

import numpy as np
import xarray as xr
import zarr


def value(x):
    x = float(x)
    return "NaN" if math.isnan(x) else x


def main(store, zarr_format):
    rng = np.random.default_rng(7)
    shape = (6, 5)
    t = 273.15 + 40.0 * rng.standard_normal(shape)
    t[1, 2] = np.nan
    t[4, 0] = np.nan
    n = np.round(rng.uniform(0, 400, shape) / 2.0) * 2.0
    n[0, 0] = np.nan
    q = rng.standard_normal(shape).astype(np.float32)
    q[2, 3] = np.nan
    w = rng.standard_normal(shape)
    dims = ("y", "x")
    ds = xr.Dataset({"t": (dims, t), "n": (dims, n), "q": (dims, q), "w": (dims, w)})
    encoding = {
        "t": {"dtype": "int16", "scale_factor": 0.01, "add_offset": 273.15, "_FillValue": -32767},
        "n": {"dtype": "uint8", "scale_factor": 2.0, "missing_value": 255, "_FillValue": None},
        "q": {"_FillValue": -9999.0},
        "w": {"_FillValue": None},
    }
    ds.to_zarr(store, mode="w", encoding=encoding, zarr_format=int(zarr_format), consolidated=True)
    group = zarr.open_group(store, mode="a", zarr_format=int(zarr_format))
    fill = None if zarr_format == "2" else 0
    f = group.create_array("f", shape=shape, chunks=(4, 5), dtype="i2", fill_value=fill,
                           **({"dimension_names": dims} if zarr_format == "3" else {}))
    f[:] = np.arange(30, dtype="i2").reshape(shape) * 7 - 100
    f[2, 2] = -9999
    f.attrs.update({"_FillValue": -9999, "scale_factor": 0.5})
    if zarr_format == "2":
        f.attrs["_ARRAY_DIMENSIONS"] = list(dims)
    zarr.consolidate_metadata(store)
    back = xr.open_zarr(store)
    print(json.dumps({
        name: {"dtype": str(back[name].dtype), "values": [value(v) for v in back[name].values.ravel()]}
        for name in ["t", "n", "q", "w", "f"]
    }))


main(*sys.argv[1:3])
