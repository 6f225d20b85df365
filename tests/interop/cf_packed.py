"""Writes CF-packed variables with xarray, as netCDF-derived stores hold them, and prints
xarray's decoded values as JSON, for tests/zarr_groups.rs to compare exactly with what
chunkwise's `AnyArray::decode_cf` gives.

usage: cf_packed.py STORE ZARR_FORMAT

Variables: `t` int16 with scale_factor, add_offset and _FillValue; `n` uint8 with
scale_factor and missing_value only; `q` float32 with a float _FillValue; `w` float64
without any packing; `f` int16 that zarr-python wrote with a `_FillValue` attribute beside
a Zarr v2 `fill_value` of null (xarray masks by the attribute then); `s` uint8 holding
signed bytes (`_Unsigned = "false"`) and `u` int8 holding unsigned ones (`"true"`), each
with a `_FillValue` and a `missing_value`, written the same way; `m` uint8 holding signed
bytes whose fill value (255) is the array's own. Floats are printed exactly
(repr round-trips); NaN is "NaN".
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


def fill_value_of(zarr_format):
    """The array's own fill value: none in v2 (xarray masks by `_FillValue` then), 0 in v3."""
    return None if zarr_format == "2" else 0


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
    f = group.create_array("f", shape=shape, chunks=(4, 5), dtype="i2", fill_value=fill_value_of(zarr_format),
                           **({"dimension_names": dims} if zarr_format == "3" else {}))
    f[:] = np.arange(30, dtype="i2").reshape(shape) * 7 - 100
    f[2, 2] = -9999
    f.attrs.update({"_FillValue": -9999, "scale_factor": 0.5})
    if zarr_format == "2":
        f.attrs["_ARRAY_DIMENSIONS"] = list(dims)
    # Bytes of either sign, with fill values in the type each is written in: an attribute's
    # in the signed type for "false", in the stored one for "true"; the array's own (v2) in
    # the stored type. Missing values are compared after the reinterpretation.
    some_bytes = np.arange(-100, 156, 8).astype("i2")[:30].reshape(shape)
    for name, dtype, unsigned, fill, missing, own_fill in [
        ("s", "u1", "false", -1, 100, fill_value_of(zarr_format)),
        ("u", "i1", "true", -2, 200, fill_value_of(zarr_format)),
        ("m", "u1", "false", None, None, 255),
    ]:
        v = group.create_array(name, shape=shape, chunks=(4, 5), dtype=dtype, fill_value=own_fill,
                               **({"dimension_names": dims} if zarr_format == "3" else {}))
        stored = some_bytes.astype(dtype)
        stored[0, :4] = np.array([-1, -2, 100, 200], dtype="i2").astype(dtype)
        v[:] = stored
        v.attrs.update({"_Unsigned": unsigned, "scale_factor": 0.5})
        if fill is not None:
            v.attrs["_FillValue"] = fill
        if missing is not None:
            v.attrs["missing_value"] = missing
        if zarr_format == "2":
            v.attrs["_ARRAY_DIMENSIONS"] = list(dims)
    zarr.consolidate_metadata(store)
    back = xr.open_zarr(store)
    print(json.dumps({
        name: {"dtype": str(back[name].dtype), "values": [value(v) for v in back[name].values.ravel()]}
        for name in ["t", "n", "q", "w", "f", "s", "u", "m"]
    }))


main(*sys.argv[1:3])
