"""``edkit dynamics``: spectral functions and imaginary-time correlators (issue 15, item 2).

The command's parser and its output; the computation is :func:`edkit.response.dynamics`.
``build_parser`` in :mod:`edkit.cli` calls :func:`register`.
"""

from __future__ import annotations

import argparse
import re


def cmd_dynamics(args) -> int:
    from edkit.cli import _emit, _model, _sector
    from edkit.response import dynamics

    model, params = _model(args)
    N, Sz, extra = _sector(args, model)
    data = dynamics(model, params, operator=args.operator, q=args.q, omega=args.omega, eta=args.eta, N=N,
                    Sz=Sz, extra=extra, layer=args.layer, method=args.method, steps=args.steps, tau=args.tau,
                    beta=args.beta, backend=args.backend)
    rules = data.sum_rules
    text = [f"{data.model} L={data.L} {data.bc} {data.params} sector {data.sector}",
            f"operator {data.operator} at q = {data.q:.12g} (layer {data.layer}), eta = {data.eta:g}, "
            f"{data.method} ({data.path}); E0 = {data.ground_energy:.12f}, ground states averaged: "
            f"{data.degeneracy}"]
    for name, part in data.parts.items():
        if part.get("sector") is None:
            text.append(f"  {name}: no target sector (no states)")
            continue
        extra_text = ""
        if "steps" in part:
            extra_text = f", {part['steps']} Lanczos steps" + (" (exhausted)" if part["exhausted"] else "")
        text.append(f"  {name}: sector {part['sector']}, {part['dimension']:,} states{extra_text}")
    text.append(f"sum rules: m0 = {rules['m0']:.10g} (poles {rules['m0_poles']:.10g}, spectrum on the grid "
                f"{rules['m0_spectrum']:.6g} of {rules['m0_window']:.6g} inside it); m1 = {rules['m1']:.10g} "
                f"(poles {rules['m1_poles']:.10g}, spectrum {rules['m1_spectrum']:.6g})")
    text.append("       omega        S(omega)")
    text += [f"{w:12.6f} {s:15.8g}" for w, s in zip(data.omega, data.spectrum)]
    if data.tau is not None:
        at = "" if data.beta is None else f"   (beta = {data.beta:g})"
        text.append("         tau            G(tau)" + at)
        text += [f"{t:12.6f} {g:17.10g}" for t, g in zip(data.tau, data.G)]
    _emit(args, data, "\n".join(text))
    return 0


def register(sub) -> argparse.ArgumentParser:
    """Add the ``dynamics`` subcommand to the ``edkit`` subparsers ``sub``."""
    from edkit.cli import _Once, add_model_arguments
    from edkit.response.operators import OPERATORS
    from edkit.response.run import DEFAULT_STEPS, METHODS

    s = sub.add_parser("dynamics", help="spectral function S(q, omega), A(k, omega), G(tau)",
                       description="Spectral function of O_q = L^(-1/2) sum_j exp(-i q j) O_j: "
                       "sum_n |<n|O_q|0>|^2 eta/pi / ((omega - (E_n - E_0))^2 + eta^2); c_up and pair "
                       "add the removal part at omega = -(E_n - E_0). Negative --q: write --q=-pi/2.")
    # a grid such as -4:4:81 is a value, not an option (argparse knows only plain negative numbers)
    s._negative_number_matcher = re.compile(r"^-\.?\d")
    add_model_arguments(s, "sector of the ground state: N=<int>, Sz=<half-integer>; default half filling")
    s.add_argument("--operator", required=True, choices=OPERATORS, action=_Once,
                   help="sz, n (density), c_up (single particle: addition and removal), "
                        "pair (eta channel c_dn c_up: addition and removal)")
    s.add_argument("--q", required=True, action=_Once,
                   help="momentum in radians: a number (3.141592653589793), or pi, pi/2, 2*pi/3")
    s.add_argument("--omega", required=True, action=_Once, metavar="START:STOP:COUNT",
                   help="frequency grid (inclusive), e.g. -2:10:601")
    s.add_argument("--eta", required=True, action=_Once, help="Lorentzian half width (> 0)")
    s.add_argument("--layer", default=None, action=_Once,
                   help="layer summed in O_q (default: all layers; a bilayer's p or m)")
    s.add_argument("--method", choices=METHODS, default="auto", action=_Once,
                   help="exact (Lehmann, full diagonalization), lanczos (continued fraction), auto "
                        "(exact for small sectors)")
    s.add_argument("--steps", type=int, default=DEFAULT_STEPS, action=_Once,
                   help=f"Lanczos steps per continued fraction (default {DEFAULT_STEPS})")
    s.add_argument("--tau", default=None, action=_Once, metavar="START:STOP:COUNT",
                   help="also G(tau) = <O_q^dag(tau) O_q> on this grid (tau >= 0)")
    s.add_argument("--beta", default=None, action=_Once,
                   help="G(tau) at inverse temperature beta (canonical, exact method only)")
    s.add_argument("--backend", choices=("auto", "stored", "matrix-free"), default="auto", action=_Once,
                   help="where the Lanczos path finds the ground state and applies H (default: the planner)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_dynamics)
    return s


__all__ = ["cmd_dynamics", "register"]
