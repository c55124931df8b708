"""Continued-fraction S(pi, omega) of the 12-site Hubbard ring at half filling (issue 15, item 2).

Usage::

    python benchmarks/dynamics.py                       # sz at q = pi, 200 steps, planner's path
    python benchmarks/dynamics.py --operator n --steps 300 --backend stored
    python benchmarks/dynamics.py --out benchmarks/results/dynamics_hubbard12.json

Model: ``hubbard`` periodic, ``L = 12``, ``U = 4``, ``t = 1``, ``N = 12``, ``Sz = 0`` (853,776
states). The whole :func:`edkit.dynamics` call is timed, start to finish: ground manifold through
the planner (matrix-free two-pass Lanczos at this size), :math:`O_q|0\\rangle`, one Lanczos run
of ``--steps`` steps and the continued fraction on the ``omega`` grid. Prints JSON: machine,
seconds, the parts' dimensions and steps, the sum rules (direct vs poles vs grid integral) and the
positions of the spectrum's largest peaks.

Goal (issue 15): at most 1 minute on two cores.
"""

from __future__ import annotations

from common import PeakSampler, emit, machine  # isort: skip  (sets threads before numpy)

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import edkit  # noqa: E402

GOAL_SECONDS = 60.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--L", type=int, default=12)
    ap.add_argument("--U", type=float, default=4.0)
    ap.add_argument("--operator", default="sz")
    ap.add_argument("--q", default="pi")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--eta", type=float, default=0.1)
    ap.add_argument("--omega", default="-1:10:1101")
    ap.add_argument("--backend", default="auto", choices=("auto", "stored", "matrix-free"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    start = time.perf_counter()
    with PeakSampler() as peak:
        res = edkit.dynamics("hubbard", {"U": args.U}, L=args.L, bc="periodic", N=args.L, Sz=0,
                             operator=args.operator, q=args.q, omega=args.omega, eta=args.eta,
                             method="lanczos", steps=args.steps, backend=args.backend)
    seconds = time.perf_counter() - start
    omega, spec = np.array(res.omega), np.array(res.spectrum)
    is_peak = (spec[1:-1] > spec[:-2]) & (spec[1:-1] > spec[2:])
    peaks = sorted(zip(spec[1:-1][is_peak], omega[1:-1][is_peak]), reverse=True)[:5]
    emit({
        "benchmark": "continued-fraction S(q, omega), Hubbard ring",
        "machine": machine(),
        "model": res.model, "L": res.L, "params": res.params, "sector": res.sector,
        "operator": res.operator, "q": res.q, "eta": res.eta, "steps_requested": args.steps,
        "path": res.path, "method": res.method,
        "ground_energy": res.ground_energy, "degeneracy": res.degeneracy,
        "parts": res.parts,
        "seconds": round(seconds, 2),
        "goal_seconds": GOAL_SECONDS,
        "within_goal": seconds <= GOAL_SECONDS,
        "peak_rss_gib": peak.delta_gib,
        "sum_rules": res.sum_rules,
        "largest_peaks": [{"omega": round(float(w), 4), "S": round(float(s), 6)} for s, w in peaks],
    }, args.out)


if __name__ == "__main__":
    main()
