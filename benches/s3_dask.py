"""The Dask side of `cargo bench --bench zarr --features object-store -- s3`: read and sum a
Zarr array on S3 with Dask Array (threaded scheduler, 2 workers) and zarr-python through
fsspec/s3fs, as the Dask user would.

    s3_dask.py ENDPOINT URL ARRAY

ENDPOINT is the S3 server (or the delaying proxy in front of it), URL the store, ARRAY the
array's path in it. Prints `RESULT dask_s3_sum median_s=... min_s=... first_s=...
cpu_s=...` after three runs (`cpu_s`: the CPU time, user and system, that the process
takes per run). Needs the peers venv (../shared/peers/setup.sh) plus `pip install s3fs`.
"""

import resource
import sys
import time

import dask
import dask.array as da

dask.config.set(scheduler="threads", num_workers=2)


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(endpoint, url, array):
    options = {
        "endpoint_url": endpoint,
        "key": "chunkwise-test",
        "secret": "chunkwise-secret",
        "client_kwargs": {"region_name": "us-east-1"},
    }
    times = []
    total = None
    cpu_before = cpu_seconds()
    for _ in range(3):
        start = time.perf_counter()
        x = da.from_zarr(url, component=array, storage_options=options)
        total = float(x.sum().compute())
        times.append(time.perf_counter() - start)
    cpu = (cpu_seconds() - cpu_before) / 3
    first = times[0]
    times.sort()
    print(
        f"RESULT dask_s3_sum median_s={times[1]:.3f} min_s={times[0]:.3f} first_s={first:.3f} cpu_s={cpu:.3f} sum={total!r}",
        flush=True,
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
