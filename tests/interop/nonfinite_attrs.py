"""Non-finite attributes as zarr-python writes them (bare NaN and Infinity in its JSON), for
tests/zarr_groups.rs.

    nonfinite_attrs.py write STORE VERSION   # xarray writes group "g" (tas, time, lat)
    nonfinite_attrs.py read STORE            # prints what zarr-python and xarray read

`read` prints JSON: each attribute (not the `_`-prefixed ones xarray keeps for itself) as
"type:repr", as read without and with consolidated metadata and by xarray, and tas's shape
and values.
"""

import json
import sys

import numpy as np
import xarray as xr
import zarr


def write(store, version):
    tas_attrs = {"valid_max": float("nan"), "lo": float("-inf"), "label": "NaN"}
    ds = xr.Dataset(
        {"tas": (("time", "lat"), np.arange(6.0).reshape(2, 3), tas_attrs)},
        coords={"time": [0.0, 1.0], "lat": [-1.0, 0.0, 1.0]},
        attrs={"x": float("nan"), "hi": float("inf")},
    )
    ds.to_zarr(store, group="g", zarr_format=int(version), consolidated=True)


def shown(attrs):
    return {k: f"{type(v).__name__}:{v!r}" for k, v in attrs.items() if not k.startswith("_")}


def read(store):
    out = {}
    # xarray consolidated the metadata at the store's root.
    for label, consolidated in [("plain", False), ("consolidated", True)]:
        group = zarr.open_group(store, mode="r", use_consolidated=consolidated)["g"]
        out[label] = {
            "group": shown(group.attrs),
            "tas": shown(group["tas"].attrs),
            "shape": list(group["tas"].shape),
        }
    ds = xr.open_zarr(store, group="g")
    out["xarray"] = {
        "group": shown(ds.attrs),
        "tas": shown(ds["tas"].attrs),
        "values": ds["tas"].values.ravel().tolist(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3])
    else:
        read(sys.argv[2])
