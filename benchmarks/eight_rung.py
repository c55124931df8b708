"""The 8-rung KBP bilayer target: plan (always) and, on request, one symmetry block (slow).

Usage::

    python benchmarks/eight_rung.py [--out results.json]            # plans + one matvec per sector
    python benchmarks/eight_rung.py --run-block k=0,P=1,Z=1         # build + Lanczos of one block
    python benchmarks/eight_rung.py --matrix-free-gap 8             # the target, via edkit.api.gaps

The issue's target is the ground state and charge gap (three sectors: N = 14, 16, 18 at Sz = 0) of
the periodic 8-rung bilayer at ``U=4, t_perp=0.5, t_m=1`` in <= 20 minutes and <= 20 GB on a 2-core
machine. This script prints, per sector, edkit's plan without symmetries and with every
translation/reflection/spin-inversion block (dimension, non-zeros, memory, number of blocks and a
rough time from the rates measured in ``edkit_vs_quspin.py``), so the distance to the target is
stated with numbers. It also times one matvec of the compiled matrix-free operator
(:mod:`edkit.engine.matfree`) per sector and projects the three-vector Lanczos ground state from it.
``--run-block`` builds and solves one block through the public API and
reports time and peak memory (expect about 10 minutes of QuSpin build for the 5.2M-state k=0 block
on this machine).
"""

from __future__ import annotations

from common import PeakSampler, emit, machine, timed  # isort: skip  (sets threads before numpy)

import argparse  # noqa: E402

from edkit.engine.planning import memory_limit, plan  # noqa: E402
from edkit.engine.symmetry import resolve  # noqa: E402
from edkit.models import build_model  # noqa: E402

VALUES = {"U": 4.0, "t_perp": 0.5, "t_m": 1.0}
L = 8


def sector_plans() -> list[dict]:
    m = build_model("kbp", L, "periodic")
    rows = []
    for N in (2 * L - 2, 2 * L, 2 * L + 2):
        sec = m.sector(N, 0)
        bare = plan(m, sec)
        syms = resolve(m, VALUES, sec, ["k", "P", "Z"])
        blocked = plan(m, sec, symmetries=syms)
        rows.append({
            "N": N, "Sz": 0,
            "without_symmetries": bare.as_dict(),
            "blocks_kPZ": blocked.as_dict(),
        })
    return rows


def matrix_free_projection(iterations: int = 200) -> dict:
    """Time one matrix-free matvec per sector (2 threads) and project a plain-Lanczos ground state.

    ``iterations``: the 6-rung bilayer needed 175 three-vector Lanczos steps for a residual of 1e-8
    (benchmarks/results/matvec.json); 200 is assumed here.
    """
    import time

    import numpy as np

    from edkit.engine.matfree import MatrixFreeHamiltonian
    from edkit.engine.symmetry import holds, particle_hole

    m = build_model("kbp", L, "periodic")
    rows = {}
    for N in (2 * L - 2, 2 * L, 2 * L + 2):
        sec = m.sector(N, 0)
        F = MatrixFreeHamiltonian(m, VALUES, sec, threads=2)
        x = np.random.default_rng(0).standard_normal(F.shape[0])
        t = time.perf_counter()
        F @ x
        first = time.perf_counter() - t
        t = time.perf_counter()
        F @ x
        sec_mv = time.perf_counter() - t
        rows[N] = {"dimension": int(F.shape[0]), "matvec_seconds": round(sec_mv, 2),
                   "first_matvec_seconds": round(first, 2),
                   "lanczos_seconds_projected": round(iterations * sec_mv),
                   "memory_gib_projected": round(4 * x.nbytes / 2**30, 1)}
        del x, F
    # N - 2 and N + 2 are particle-hole images when the symmetry holds (checked on the terms)
    ph = holds(m, VALUES, particle_hole(m))[0]
    total = sum(r["lanczos_seconds_projected"] for r in rows.values())
    return {"assumed_iterations": iterations, "sectors": rows, "particle_hole_holds": ph,
            "charge_gap_seconds_projected": total - (rows[2 * L + 2]["lanczos_seconds_projected"]
                                                     if ph else 0),
            "note": "three-vector Lanczos (edkit.engine.matfree.lanczos_ground_energy), 2 numba threads; "
                    "with particle-hole symmetry E(N+2) = E(N-2) and one sector is skipped"}


def matrix_free_gap(rungs: int = L) -> dict:
    """The target through the public API: ``edkit.api.gaps(..., only=["charge_gap"])``.

    This is what ``edkit gaps kbp --L 8 --bc periodic --param U=4 --param t_perp=0.5 --only
    charge_gap`` runs: the stored matrices do not fit, so each sector takes the matrix-free path
    (three-vector Lanczos, energy stopping rule); ``N + 2`` is the particle-hole image of ``N - 2``
    when that symmetry holds (checked on the terms), so two sectors are solved. Time and peak memory
    of the whole call.
    """
    import time

    from edkit.api import gaps

    start = time.perf_counter()
    with PeakSampler() as mem:
        out = gaps("kbp", VALUES, N=2 * rungs, L=rungs, bc="periodic", only=["charge_gap"])
    return {"rungs": rungs, "call": "edkit.api.gaps(only=['charge_gap'])",
            "sector_energies": out["sector_energies"], "energy": out["energy"],
            "charge_gap": out["charge_gap"], "seconds": round(time.perf_counter() - start, 1),
            "peak_gib": mem.delta_gib}


def run_block(spec: str) -> dict:
    from edkit.api import spectrum

    labels = {}
    for part in spec.split(","):
        key, _, value = part.partition("=")
        labels[key.strip()] = int(value)
    out: dict = {"block": labels}
    with PeakSampler() as mem, timed(out, "seconds"):
        res = spectrum("kbp", VALUES, N=2 * L, Sz=0.0, L=L, bc="periodic", symmetries=labels)
    out.update({"energy": res["energies"][0], "dimension": res["dimension"],
                "peak_gib": mem.delta_gib})
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-block", metavar="k=0,P=1,Z=1", help="build and solve one block (slow)")
    p.add_argument("--no-matvec", action="store_true",
                   help="skip timing one matrix-free matvec per sector (~40 s, 5.3 GB)")
    p.add_argument("--matrix-free-gap", type=int, metavar="RUNGS",
                   help="the charge gap at RUNGS rungs through edkit.api.gaps (8: ~10 min, ~4 GB)")
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args()
    plans = sector_plans()
    limit = memory_limit(plans[0]["without_symmetries"]["bytes_available"])
    data = {
        "target": "KBP bilayer, 8 rungs periodic, half filling, U=4, t_perp=0.5, t_m=1: ground state "
                  "and charge gap (N = 14, 16, 18 at Sz = 0) in <= 20 min, <= 20 GB",
        "machine": machine(), "memory_limit_bytes": limit, "sectors": plans,
        "all_sectors_blocks_seconds_rough": round(sum(s["blocks_kPZ"]["all_blocks_seconds_rough"]
                                                      for s in plans)),
    }
    if not args.no_matvec:
        data["matrix_free"] = matrix_free_projection()
    if args.run_block:
        data["run_block"] = run_block(args.run_block)
    if args.matrix_free_gap:
        data["matrix_free_gap"] = matrix_free_gap(args.matrix_free_gap)
    emit(data, args.out)


if __name__ == "__main__":
    main()
