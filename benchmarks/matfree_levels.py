"""Matrix-free lowest levels, ground-state vector and correlators of the periodic KBP bilayer (issue 14).

Usage::

    python benchmarks/matfree_levels.py --rungs 7 --nev 4                 # four lowest levels (N=2L, Sz=0)
    python benchmarks/matfree_levels.py --rungs 7 --nev 4 --complete-top  # + the fourth level's partners
    python benchmarks/matfree_levels.py --rungs 7 --nev 4 --strategy arpack
    python benchmarks/matfree_levels.py --rungs 8 --correlations --keys C N --layers p --no-degeneracy-check
    python benchmarks/matfree_levels.py --rungs 5 --nev 4 --check          # + the stored path's levels

Model: ``kbp`` periodic, ``U=4, t_perp=0.5, t_m=1`` (``mu_p=-U/2, mu_m=0``: the defaults), half
filling ``N = 2 L``, ``Sz = 0``. Prints JSON (``--out`` also writes it): machine, dimension, memory
estimate (:func:`edkit.engine.lanczos.memory_bytes`), seconds, matvecs, peak RSS (sampled), and
the levels or the correlators. With ``--correlations`` the ground state (two-pass Lanczos,
:func:`edkit.engine.lanczos.ground_manifold`) and the correlators from site 0
(:func:`edkit.engine.product_expectation.correlations_matrix_free`) are computed, and the
Anderson-lattice identity ``2C(0,j) = (-1)^j N(0,j)`` is reported when both C and N are (even
rungs only: it needs a bipartite ring).

Goals (issue 14, two cores): 7 rungs, four levels in <= 3 min; 8 rungs, ground state and C_p(0, j)
in <= 15 min and <= 8 GB. The 7- and 8-rung runs need a quiet machine.
"""

from __future__ import annotations

from common import PeakSampler, emit, machine  # isort: skip  (sets threads before numpy)

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

from edkit.engine.lanczos import ground_manifold, memory_bytes  # noqa: E402
from edkit.engine.levels import default_ncv, lowest_levels  # noqa: E402
from edkit.engine.matfree import ORDERS, MatrixFreeHamiltonian  # noqa: E402
from edkit.engine.product_expectation import (  # noqa: E402
    CORRELATOR_KEYS,
    ProductBasis,
    correlations_matrix_free,
)
from edkit.models import build_model  # noqa: E402

PARAMS = {"U": 4.0, "t_perp": 0.5, "t_m": 1.0}


def progress(line: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {line}", flush=True, file=sys.stderr)


def levels(args, m, op, out: dict) -> None:
    dim = op.shape[0]
    ncv = args.ncv or default_ncv(args.nev, dim)
    what = "levels-arpack" if args.strategy == "arpack" else "levels"
    out["memory_estimate_bytes"] = memory_bytes(dim, op.dtype, what, nev=args.nev, ncv=ncv)
    stats: dict = {}
    with PeakSampler() as peak:
        t = time.perf_counter()
        eig = lowest_levels(op, args.nev, strategy=args.strategy, ncv=ncv, stats=stats, tol=args.tol,
                            complete_top=args.complete_top, progress=progress if args.verbose else None)
        out["seconds"] = round(time.perf_counter() - t, 2)
    out.update(strategy=args.strategy, ncv=ncv if args.strategy == "arpack" else None,
               complete_top=args.complete_top,
               matvecs=stats["matvecs"], completion_matvecs=stats["completion_matvecs"],
               peak_rss_delta_gib=peak.delta_gib, energies=[float(e) for e in eig.energies],
               degeneracies=[[e, k] for e, k in eig.degeneracies])
    if args.check:
        from edkit import api

        t = time.perf_counter()
        stored = api.spectrum(m, PARAMS, N=2 * args.rungs, Sz=0, nev=args.nev, method="stored",
                              labels=False)["energies"]
        out["stored_seconds"] = round(time.perf_counter() - t, 2)
        out["max_difference_to_stored"] = float(np.max(np.abs(np.array(stored) - eig.energies)))


def correlations(args, m, op, out: dict) -> None:
    dim = op.shape[0]
    keys = tuple(args.keys or CORRELATOR_KEYS)
    states_max = 1 if args.no_degeneracy_check else 4
    out["memory_estimate_bytes"] = memory_bytes(dim, op.dtype, "manifold", nev=1)
    with PeakSampler() as peak:
        t = time.perf_counter()
        counts: dict = {}
        states, nxt = ground_manifold(op, tol=args.tol, max_states=states_max,
                                      next_level=not args.no_degeneracy_check,
                                      progress=progress if args.verbose else None, stats=counts)
        out["ground_state_seconds"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        sector = m.sector(2 * args.rungs, 0)
        rows = correlations_matrix_free(m, sector, [s.vector for s in states], reference=0,
                                        layers=args.layers, basis=ProductBasis(m, sector, op), keys=keys)
        out["correlations_seconds"] = round(time.perf_counter() - t, 2)
    out.update(energy=states[0].energy, residual=max(s.residual for s in states),
               ground_state_degeneracy=len(states), next_energy=nxt,
               lanczos_steps=counts["steps"], matvecs=counts["matvecs"],
               rounds=[s.rounds for s in states], peak_rss_delta_gib=peak.delta_gib,
               seconds=round(out["ground_state_seconds"] + out["correlations_seconds"], 2), layers=rows)
    if "C" in keys and "N" in keys and args.rungs % 2 == 0:  # an odd ring is not bipartite
        sign = (-1.0) ** np.arange(args.rungs)
        out["anderson_identity_max_deviation"] = max(
            float(np.max(np.abs(2 * np.array(r["C"]) - sign * np.array(r["N"])))) for r in rows.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rungs", type=int, default=7)
    ap.add_argument("--nev", type=int, default=4)
    ap.add_argument("--strategy", choices=("deflation", "arpack"), default="deflation")
    ap.add_argument("--ncv", type=int, default=None)
    ap.add_argument("--tol", type=float, default=1e-10,
                    help="residual target |Hx - Ex| <= tol (1 + |E|) (default 1e-10; 1e-12 for the "
                         "Anderson identity to 1e-8)")
    ap.add_argument("--correlations", action="store_true",
                    help="ground state + correlators instead of levels")
    ap.add_argument("--keys", nargs="*", choices=CORRELATOR_KEYS, default=None)
    ap.add_argument("--layers", nargs="*", default=None)
    ap.add_argument("--no-degeneracy-check", action="store_true",
                    help="ground state only (skip the deflated solve for the next level)")
    ap.add_argument("--complete-top", action="store_true",
                    help="also the partners of the nev-th level, as `edkit spectrum --nev` does (without it: "
                         "exactly nev levels; the multiplicity of the last one is not resolved)")
    ap.add_argument("--order", choices=ORDERS, default="rcm",
                    help="configuration order of the operator (default rcm, as the matrix-free backend)")
    ap.add_argument("--threads", type=int, default=None, help="numba threads (default: all cores)")
    ap.add_argument("--check", action="store_true", help="compare with the stored path (small sizes)")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.threads:
        numba.set_num_threads(args.threads)
    m = build_model("kbp", args.rungs, "periodic")
    vals = m.resolve(PARAMS)
    out: dict = {"benchmark": "matrix-free " + ("ground state + correlators" if args.correlations
                                                 else f"{args.nev} lowest levels"),
                 "machine": machine(), "model": "kbp", "rungs": args.rungs, "bc": "periodic",
                 "params": PARAMS, "N": 2 * args.rungs, "Sz": 0, "numba_threads": numba.get_num_threads(),
                 "tol": args.tol}
    t = time.perf_counter()
    op = MatrixFreeHamiltonian(m, vals, m.sector(2 * args.rungs, 0), order=args.order)
    out["order"] = args.order
    op.apply(np.zeros(op.shape[0]), np.empty(op.shape[0]))  # compile / load the kernel outside the timing
    out["dimension"] = int(op.shape[0])
    out["vector_bytes"] = int(op.shape[0] * np.dtype(op.dtype).itemsize)
    out["setup_seconds"] = round(time.perf_counter() - t, 2)
    (correlations if args.correlations else levels)(args, m, op, out)
    emit(out, args.out)


if __name__ == "__main__":
    main()
