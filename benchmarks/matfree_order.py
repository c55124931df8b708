"""Matrix-free matvec and Lanczos step in the ascending and the RCM configuration order, against this
machine's memory bandwidth (issue 16, the CPU path).

Usage::

    python benchmarks/matfree_order.py [--rungs 8] [--steps 25] [--repeats 3] [--out results.json]

On the periodic KBP bilayer at half filling (``U=4, t_perp=0.5, t_m=1``, ``N = 2L``, ``Sz = 0``):

1. **Bandwidth** of this machine with the benchmark's threads (numba, 2 by default): a copy
   ``b[i] = a[i]`` (16 B per element counted) and a triad ``a[i] = b[i] + s c[i]`` (24 B counted; the
   write's read-for-ownership is not counted) over 800 MB arrays, best of five; and the read rate of a
   vectorized sum over 1 MB .. 2 GB (where the caches end for this process).
2. **Check**: the RCM operator's matvec equals the ascending one's with the indices permuted (max
   difference), and the two ``<x, Hx>`` agree.
3. **Timing, alternating** ascending / RCM in the same process, ``--repeats`` times: one matvec, and
   ``--steps`` steps of :func:`edkit.engine.matfree.lanczos_ground_energy` (seconds per step, timed
   between its progress lines at steps 5 and ``steps + 5``: the start vector is not counted). Ratios
   RCM / ascending of the medians, and each matvec against the bound ``2 * 8 B * dim / bandwidth``
   (read ``x`` once, write ``y`` once) at the copy bandwidth.
"""

from __future__ import annotations

from common import emit, machine  # isort: skip  (sets threads before numpy)

import argparse  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

from edkit.engine.matfree import MatrixFreeHamiltonian, lanczos_ground_energy  # noqa: E402
from edkit.models import build_model  # noqa: E402

VALUES = {"U": 4.0, "t_perp": 0.5, "t_m": 1.0}


@numba.njit(parallel=True)
def _copy(a, b):
    for i in numba.prange(a.shape[0]):
        b[i] = a[i]


@numba.njit(parallel=True)
def _triad(a, b, c, s):
    for i in numba.prange(a.shape[0]):
        a[i] = b[i] + s * c[i]


@numba.njit(parallel=True, fastmath=True)
def _read(a, reps):
    total = 0.0
    for _ in range(reps):
        for i in numba.prange(a.shape[0]):
            total += a[i]
    return total


def bandwidth() -> dict:
    """Copy and triad rates (GB/s, best of five) and the read rate by working-set size."""
    n = 100_000_000
    a, b, c = np.ones(n), np.ones(n), np.ones(n)
    _copy(a, b)
    _triad(a, b, c, 0.5)
    out: dict = {"threads": numba.get_num_threads(), "array_mb": n * 8 // 10**6}
    for name, nbytes in (("copy", 16 * n), ("triad", 24 * n)):
        ts = []
        for _ in range(5):
            t = time.perf_counter()
            if name == "copy":
                _copy(a, b)
            else:
                _triad(a, b, c, 0.5)
            ts.append(time.perf_counter() - t)
        out[f"{name}_gb_s"] = round(nbytes / min(ts) / 1e9, 1)
    a = b = c = None
    reads = {}
    for mb in (1, 4, 16, 32, 64, 256, 2048):
        x = np.ones(mb * 2**20 // 8)
        reps = max(1, 4096 // mb)
        _read(x, 1)
        t = time.perf_counter()
        _read(x, reps)
        reads[f"{mb}MiB"] = round(x.nbytes * reps / (time.perf_counter() - t) / 1e9, 1)
    out["read_gb_s_by_size"] = reads
    return out


def _sig(x: float) -> float:
    """Four significant digits."""
    return float(f"{x:.4g}")


def _ascending_index(asc: MatrixFreeHamiltonian, op: MatrixFreeHamiltonian) -> np.ndarray:
    return (asc.rank_up[op.ups][:, None] * len(asc.dns) + asc.rank_dn[op.dns][None, :]).ravel()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rungs", type=int, default=8)
    p.add_argument("--steps", type=int, default=25, help="timed Lanczos steps (a multiple of 5)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out")
    args = p.parse_args()
    out: dict = {"benchmark": "matrix-free order: ascending vs rcm", "machine": machine(),
                 "bandwidth": bandwidth()}
    m = build_model("kbp", args.rungs, "periodic")
    sector = m.sector(2 * args.rungs, 0)
    ops = {order: MatrixFreeHamiltonian(m, m.resolve(VALUES), sector, order=order)
           for order in ("ascending", "rcm")}
    dim = ops["rcm"].shape[0]
    x = np.random.default_rng(0).standard_normal(dim)
    y = np.empty_like(x)
    idx = _ascending_index(ops["ascending"], ops["rcm"])
    y_asc, dot_asc = ops["ascending"].apply(x, y)
    y_asc = y_asc.copy()
    y_rcm, dot_rcm = ops["rcm"].apply(np.ascontiguousarray(x[idx]), y)
    out["check"] = {"max_difference": float(np.max(np.abs(y_rcm - y_asc[idx]))),
                    "dot_difference": abs(dot_rcm - dot_asc)}
    del y_asc, idx
    times: dict = {o: {"matvec": [], "step": []} for o in ops}
    for _ in range(args.repeats):
        for order, op in ops.items():
            t = time.perf_counter()
            op.apply(x, y)
            times[order]["matvec"].append(time.perf_counter() - t)
            stamps: list[float] = []  # at steps 5, 10, ...: the start vector's setup is not counted
            lanczos_ground_energy(op, maxiter=args.steps + 5, check_every=5,
                                  progress=lambda _line, s=stamps: s.append(time.perf_counter()))
            times[order]["step"].append((stamps[-1] - stamps[0]) / args.steps)
    bw = out["bandwidth"]["copy_gb_s"] * 1e9
    bound = 2 * 8 * dim / bw
    med = {o: {k: float(np.median(v)) for k, v in t.items()} for o, t in times.items()}
    out["sector"] = {"rungs": args.rungs, "N": 2 * args.rungs, "Sz": 0, "dimension": dim,
                     "vector_gb": round(8 * dim / 1e9, 3)}
    out["seconds"] = {o: {k: [_sig(s) for s in v] for k, v in t.items()} for o, t in times.items()}
    out["median"] = {o: {k: _sig(s) for k, s in v.items()} for o, v in med.items()}
    out["ratio_rcm_over_ascending"] = {k: round(med["rcm"][k] / med["ascending"][k], 3)
                                       for k in ("matvec", "step")}
    out["matvec_bound_seconds"] = _sig(bound)
    out["matvec_over_bound"] = {o: round(med[o]["matvec"] / bound, 1) for o in ops}
    emit(out, args.out)


if __name__ == "__main__":
    main()
