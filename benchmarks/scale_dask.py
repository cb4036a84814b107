"""Scaling of portakern.dask on a LocalCluster: a saxpy and a 5-point Jacobi step over 1-16 chunks,
time per step against one whole-array launch in this process (the table of docs/scale.md).

    python -m benchmarks.scale_dask [--backend numba] [--workers 2] [--repeat 5]

The inputs are persisted on the workers first, and each step is persisted too (its result stays on
the workers), so a step's time is the per-chunk launches plus Dask's scheduling and, for the Jacobi,
the halo exchange between workers; no transfer to or from this process is timed.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import portakern.dask as pkd

from .kernels import jacobi2d as jacobi
from .kernels import saxpy


def _best_time(fn, repeat: int) -> float:
    """The fastest of ``repeat`` runs: on a shared machine other jobs only ever add time."""
    fn()                                   # warm-up: compiles on every worker
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _new_scalar(counter=iter(range(1, 1 << 30))) -> np.float32:  # noqa: B008 - one counter for the run
    """A scalar never used before: every step gets new graph keys, or Dask would hand back an earlier
    step's result still held by the cluster."""
    return np.float32(1 + next(counter) * 2.0 ** -20)


def _cluster_steps(client, k: int, n: int, side: int, be: str, rep: int) -> tuple[float, float]:
    """(saxpy, Jacobi) seconds per step over ``k`` chunks, inputs and results kept on the workers."""
    import dask.array as da
    from distributed import wait

    drng = da.random.default_rng(k)           # made on the workers: no 100 MB graph to ship
    dx = client.persist(drng.standard_normal(n, dtype=np.float32, chunks=-(-n // k)))
    dy = client.persist(drng.standard_normal(n, dtype=np.float32, chunks=-(-n // k)))
    state = {"u": client.persist(drng.standard_normal((side, side), chunks=(-(-side // k), side)))}
    wait([dx, dy, state["u"]])

    def step_saxpy():
        wait(client.persist(pkd.map_blocks(saxpy, _new_scalar(), dx, dy, outputs="out", backend=be)))

    def step_jacobi():                        # iterates on its own result: new keys every step
        state["u"] = client.persist(pkd.map_overlap(jacobi, state["u"], outputs="out", depth=1, backend=be))
        wait(state["u"])

    return _best_time(step_saxpy, rep), _best_time(step_jacobi, rep)


def main() -> None:
    import dask.array as da
    from distributed import Client, LocalCluster, wait

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--backend", default="numba")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--n", type=int, default=1 << 24, help="saxpy length")
    ap.add_argument("--side", type=int, default=2048, help="Jacobi grid side")
    args = ap.parse_args()
    be, rep = args.backend, args.repeat

    rng = np.random.default_rng(0)
    x = rng.standard_normal(args.n).astype(np.float32)
    y = rng.standard_normal(args.n).astype(np.float32)
    u = rng.standard_normal((args.side, args.side))
    a = np.float32(2)
    out_x, out_u = np.empty_like(x), np.empty_like(u)
    whole_saxpy = _best_time(lambda: saxpy.on(be)[x.size](a, x, y, out_x), rep)
    whole_jacobi = _best_time(lambda: jacobi.on(be)[u.shape](u, out_u), rep)
    print(f"backend {be}; saxpy n={args.n} float32, Jacobi {args.side}^2 float64; one whole-array launch "
          f"in this process: saxpy {whole_saxpy * 1e3:.2f} ms, Jacobi {whole_jacobi * 1e3:.2f} ms")

    tiny = da.ones(64 * 256, dtype=np.float32, chunks=256)     # 64 chunks of 256: the launch overhead alone
    t_threads = _best_time(lambda: pkd.map_blocks(saxpy, a, tiny, tiny, outputs="out", backend=be)
                             .compute(scheduler="threads"), rep)
    print(f"per-chunk overhead, threaded scheduler: {t_threads / 64 * 1e6:.0f} us per chunk (64 chunks of 256)")
    # Dask parallelises over chunks: a worker's numba must not start a thread per core on top of that
    # (measured here: 19.6 ms per small chunk with numba's default pool, 2.0 ms with one thread).
    env = {"NUMBA_NUM_THREADS": "1"}
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40, env=env) as cluster, Client(cluster) as client:
        print(f"LocalCluster: {args.workers} worker processes x 1 thread, NUMBA_NUM_THREADS=1")
        t_cluster = _best_time(lambda: wait(client.persist(
            pkd.map_blocks(saxpy, _new_scalar(), tiny, tiny, outputs="out", backend=be))), rep)
        print(f"per-chunk overhead, LocalCluster: {t_cluster / 64 * 1e6:.0f} us per chunk (64 chunks of 256)\n")
        print("| chunks | saxpy ms/step | vs whole | Jacobi ms/step | vs whole | halo cells/step |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: |")
        for k in (1, 2, 4, 8, 16):
            ts, tj = _cluster_steps(client, k, args.n, args.side, be, rep)
            halo = 2 * (k - 1) * args.side        # one row each way across every internal chunk border
            print(f"| {k} | {ts * 1e3:.2f} | {ts / whole_saxpy:.2f}x | {tj * 1e3:.2f} | {tj / whole_jacobi:.2f}x "
                  f"| {halo} |")

if __name__ == "__main__":
    main()
