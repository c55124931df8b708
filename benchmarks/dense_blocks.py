"""Exact thermal averages and exact dynamics with and without symmetry blocks, in one process.

:mod:`edkit.engine.dense_blocks` diagonalizes each sector in the blocks of the symmetries that hold on
it. The baseline is the same call with blocks switched off (``BLOCK_DIMENSION`` raised above every
sector), run in this process under the same thread settings (``common``: one OpenBLAS thread).
After one untimed blocked run (imports, compiled kernels), runs alternate blocked / plain ``--repeats``
times; the ratio plain / blocked of the medians is the speed-up, and the largest difference of any
reported number between the two is printed (it must be rounding only).

Cases:

- ``thermal_kbp4``: ``edkit.thermal("kbp", U=4, L=4, periodic, N=8)`` at five betas with ``C:p:0:*``
  (the first cell of ``notebooks/finite_temperature.ipynb``);
- ``thermal_hubbard8``: the 8-site periodic Hubbard ring at half filling, ``double_occupancy`` and
  ``SzSz:c:0:*``;
- ``dynamics_hubbard8``: ``S(pi, omega)`` of the same ring by ``method="exact"`` at ``beta = 2``
  (Lehmann sums over every ``Sz`` sector).

Usage: ``nice .venv/bin/python benchmarks/dense_blocks.py --out benchmarks/results/dense_blocks.json``.
"""

from __future__ import annotations

from common import emit, machine  # isort: skip  (sets threads before numpy)

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import edkit  # noqa: E402
import edkit.engine.dense_blocks as blocks  # noqa: E402

BETAS = [0.25, 1, 8, 64, 1000]


def _numbers(result) -> np.ndarray:
    """Every number a result reports (points of a thermal run; spectrum and G of a dynamics run)."""
    if hasattr(result, "points"):
        return np.array([v for p in result.points for v in p.values()
                         if isinstance(v, float) and v is not None], dtype=float)
    return np.concatenate([np.asarray(result.spectrum, dtype=float), np.asarray(result.G, dtype=float)])


CASES = {
    "thermal_kbp4": lambda: edkit.thermal("kbp", {"U": 4}, L=4, bc="periodic", betas=BETAS, method="exact",
                                          observables=["C:p:0:*"]),
    "thermal_hubbard8": lambda: edkit.thermal("hubbard", {"U": 4}, L=8, bc="periodic", betas=BETAS,
                                              method="exact", observables=["double_occupancy", "SzSz:c:0:*"]),
    "dynamics_hubbard8": lambda: edkit.dynamics("hubbard", {"U": 4}, L=8, bc="periodic", operator="sz",
                                                q="pi", omega=np.linspace(-0.5, 8, 171), eta=0.1,
                                                method="exact", beta=2.0, tau=np.linspace(0, 2, 11)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    default = blocks.BLOCK_DIMENSION
    out: dict = {"machine": machine(), "block_dimension": default, "cases": {}}
    for name in args.cases.split(","):
        times: dict[str, list[float]] = {"blocked": [], "plain": []}
        numbers = {}
        CASES[name]()  # warm-up (imports, compiled kernels), not timed
        for _ in range(args.repeats):
            for mode in ("blocked", "plain"):
                blocks.BLOCK_DIMENSION = default if mode == "blocked" else 10**12
                t0 = time.perf_counter()
                numbers[mode] = _numbers(CASES[name]())
                times[mode].append(time.perf_counter() - t0)
        blocks.BLOCK_DIMENSION = default
        med = {k: statistics.median(v) for k, v in times.items()}
        out["cases"][name] = {
            "blocked_s": [round(t, 3) for t in times["blocked"]],
            "plain_s": [round(t, 3) for t in times["plain"]],
            "speedup": round(med["plain"] / med["blocked"], 2),
            "max_difference": float(np.max(np.abs(numbers["blocked"] - numbers["plain"]))),
        }
    emit(out, args.out)


if __name__ == "__main__":
    main()
