"""``edkit thermal``: thermal averages (exact or FTLM) at a list of inverse temperatures.

::

    edkit thermal MODEL [--L L] [--bc open|periodic] [--param k=v ...] [--sector N=n] [--mu X]
                  --beta 0.5,1,2 [--method auto|exact|ftlm] [--samples R] [--seed S] [--steps M]
                  [--observables NAMES] [--correlations] [--json]

Every argument is checked before any work (exit 2 with a message): ``beta <= 0`` or not a number,
``--samples``/``--steps`` below 1, ``--sector`` together with ``--mu`` (the grand-canonical ensemble
sums over every ``N``: refused rather than silently ignored), unknown parameters or observables,
and an exact run too large to diagonalize (with the estimate). The computation is
:func:`edkit.thermodynamics.thermal_averages`.
"""

from __future__ import annotations

import argparse


def _args_to_call(args) -> tuple:
    from edkit.cli import _model, _pairs
    from edkit.core.errors import InputError
    from edkit.core.params import parse_number
    from edkit.thermodynamics.ensemble import parse_betas

    betas = parse_betas(args.beta)  # first: the cheapest checks
    if args.samples is not None and args.samples < 1:
        raise InputError(f"--samples must be at least 1, got {args.samples}")
    if args.steps is not None and args.steps < 1:
        raise InputError(f"--steps must be at least 1, got {args.steps}")
    if args.seed is not None and args.seed < 0:
        raise InputError(f"--seed must be a non-negative integer, got {args.seed}")
    mu = None
    if args.mu is not None:
        try:
            mu = parse_number(args.mu)
        except (ValueError, TypeError):
            raise InputError(f"--mu must be a number, got {args.mu!r}") from None
        if args.sector:
            raise InputError("--sector and --mu were both given: the grand-canonical ensemble (--mu) sums "
                             "over every N and Sz; drop one of them")
    model, params = _model(args)
    sector = {k: v for k, v in _pairs(args.sector, "sector").items()}
    observables = [o.strip() for item in (args.observables or []) for o in item.split(",") if o.strip()]
    if args.correlations:
        observables.append("correlations")
    return model, params, betas, sector or None, mu, observables or None


def cmd_thermal(args) -> int:
    from edkit.cli import _emit
    from edkit.thermodynamics import thermal_averages
    from edkit.thermodynamics.quantities import resolve_observables

    model, params, betas, sector, mu, observables = _args_to_call(args)
    resolve_observables(model, observables)  # unknown names before any work
    res = thermal_averages(model, params, betas=betas, sector=sector, mu=mu, method=args.method,
                           samples=args.samples if args.samples is not None else 20,
                           steps=args.steps if args.steps is not None else 100,
                           seed=args.seed if args.seed is not None else 0, observables=observables)
    data = res.to_dict()
    where = (f"mu={data['mu']:g}" if "mu" in data else
             "sector " + ", ".join(f"{k}={v:g}" for k, v in data["sector"].items()))
    head = f"{data['model']} L={data['L']} {data['bc']} {data['params']}"
    how = data["method"] + (f", {data['samples']} samples x {data['steps']} steps, seed {data['seed']}"
                            if data["method"] == "ftlm" else "")
    states = sum(s["dimension"] * len(s["images"]) for s in data["sectors"])
    text = [head, f"{data['ensemble']} ensemble, {where}: {len(data['sectors'])} sector(s) solved, "
                  f"{states:,} states ({how})"]
    names = ["energy", "specific_heat", "N", "double_occupancy", "spin_susceptibility",
             "charge_susceptibility"]
    names += [k for k in data["points"][0] if ":" in k and not k.endswith("_error")] if data["points"] else []
    short = {"specific_heat": "C", "double_occupancy": "D", "spin_susceptibility": "chi_s",
             "charge_susceptibility": "chi_c"}
    text.append(f"{'beta':>10s} " + " ".join(f"{short.get(n, n):>24s}" for n in names))
    for p in data["points"]:
        cells = []
        for n in names:
            v, e = p.get(n), p.get(f"{n}_error")
            if v is None:
                cells.append(f"{('low T' if p.get('low_temperature') else '-'):>24s}")
            elif e:
                cells.append(f"{v:>14.8f} +- {e:<7.1e}")
            else:
                cells.append(f"{v:>24.10f}")
        text.append(f"{p['beta']:>10g} " + " ".join(cells))
    text.append(f"ground energy (T = 0 limit): {data['ground_energy']:.10f}")
    text += [f"warning: {w}" for w in data["warnings"]]
    _emit(args, res, "\n".join(text))
    return 0


def register(sub) -> argparse.ArgumentParser:
    """Add the ``thermal`` subcommand to ``edkit``'s subparsers."""
    from edkit.cli import _Once, add_model_arguments

    s = sub.add_parser("thermal", help="thermal averages at inverse temperatures (exact or FTLM)")
    add_model_arguments(s, "canonical ensemble: N=<int> (default half filling), every Sz summed; Sz=<s> "
                           "fixes Sz too")
    s.add_argument("--mu", action=_Once, metavar="X",
                   help="chemical potential: grand-canonical ensemble, every N and Sz (not with --sector)")
    s.add_argument("--beta", required=True, action=_Once, metavar="B1,B2,...",
                   help="inverse temperatures, comma-separated (each > 0)")
    s.add_argument("--method", choices=("auto", "exact", "ftlm"), default="auto", action=_Once,
                   help="exact: full diagonalization of every sector; ftlm: finite-temperature Lanczos; "
                        "auto (default): exact up to 2,000 states per sector, or when the exact run (in "
                        "symmetry blocks) is planned at 20 s at most")
    s.add_argument("--samples", type=int, default=None, action=_Once,
                   help="FTLM random vectors per sector (20)")
    s.add_argument("--steps", type=int, default=None, action=_Once,
                   help="FTLM Lanczos steps per vector (100)")
    s.add_argument("--seed", type=int, default=None, action=_Once, help="FTLM seed (0)")
    s.add_argument("--observables", action="append", metavar="NAMES",
                   help="correlators KEY:layer:i:j (KEY in C, N, S, SzSz, SxSx, SySy; '*' matches any), "
                        "comma-separated or repeated")
    s.add_argument("--correlations", action="store_true",
                   help="every correlator from site 0 to every site of each layer")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_thermal)
    return s


__all__ = ["cmd_thermal", "register"]
