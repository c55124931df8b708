"""The ``edkit`` command line (git-style subcommands).

Exit codes: 0 success; 1 a verification failed; 2 bad input (unknown model or parameter,
impossible sector, too large, malformed value). Values are parsed as numbers only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from edkit import __version__

EXIT_FAIL, EXIT_INPUT = 1, 2


class InputError(ValueError):
    """Bad command-line input."""


def _pairs(items: Sequence[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InputError(f"--{what} expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def _sector(args, model) -> tuple[int, float | None, dict[str, float]]:
    from edkit.core.params import parse_number

    raw = _pairs(args.sector, "sector")
    allowed = set(model.sector_names)
    unknown = set(raw) - allowed
    if unknown:
        raise InputError(f"unknown sector name(s) {sorted(unknown)}; {model.name} has {sorted(allowed)}")
    half = model.n_orbitals if model.spinful else model.n_orbitals // 2
    n_value = parse_number(raw["N"]) if "N" in raw else float(half - model.extra_electrons
                                                                if model.extra_electrons else half)
    if n_value != int(n_value):
        raise InputError(f"N must be an integer, got {raw['N']}")
    N = int(n_value)
    extra = {k: parse_number(v) for k, v in raw.items() if k not in ("N", "Sz")}
    if not model.spinful:
        return N, None, extra
    Sz = parse_number(raw["Sz"]) if "Sz" in raw else (0.0 if (N + model.extra_electrons) % 2 == 0 else 0.5)
    return N, Sz, extra


def _model(args):
    from edkit.models import build_model

    model = build_model(args.model, args.L, args.bc)
    params = _pairs(args.param, "param")
    model.resolve(params)  # unknown names / non-numbers fail here, before any work
    return model, params


def _emit(args, data: dict, text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


def cmd_models(args) -> int:
    from edkit.models import MODELS

    data = []
    for name, factory in MODELS.items():
        m = factory(2, "open")
        data.append({
            "name": name,
            "parameters": {p.name: (str(p.default) if p.default is not None else None)
                           for p in m.parameters.values()},
            "sectors": ["N", "Sz"] if m.spinful else ["N"],
            "summary": (factory.__doc__ or "").strip().splitlines()[0],
        })
    lines = []
    for d in data:
        params = ", ".join(f"{k}={v}" for k, v in d["parameters"].items())
        lines.append(f"{d['name']:10s} {d['summary']}\n{'':10s} parameters: {params}; "
                     f"sectors: {', '.join(d['sectors'])}")
    _emit(args, {"models": data}, "\n".join(lines))
    return 0


def cmd_spectrum(args) -> int:
    from edkit.api import spectrum

    model, params = _model(args)
    N, Sz, extra = _sector(args, model)
    data = spectrum(model, params, N=N, Sz=Sz, nev=args.nev, extra=extra)
    text = [f"{data['model']} L={data['L']} {data['bc']} {data['params']}",
            f"sector {data['sector']}, dimension {data['dimension']:,} ({data['method']})"]
    text += [f"  E[{k}] = {e:.12f}" for k, e in enumerate(data["energies"])]
    text.append("degeneracies: " + ", ".join(f"{e:.10f} x{k}" for e, k in data["degeneracies"]))
    _emit(args, data, "\n".join(text))
    return 0


def cmd_gaps(args) -> int:
    from edkit.api import gaps

    model, params = _model(args)
    N, Sz, extra = _sector(args, model)
    data = gaps(model, params, N=N, Sz=Sz, extra=extra)
    text = [f"{data['model']} L={data['L']} {data['bc']} {data['params']} sector {data['sector']}",
            f"  E0 = {data['energy']:.12f}"]
    for key in ("charge_gap", "spin_gap", "pair_binding", "neutral_gap"):
        v = data[key]
        text.append(f"  {key:13s} = {'undefined' if v is None else f'{v:.12f}'}")
    _emit(args, data, "\n".join(text))
    return 0


def cmd_correlations(args) -> int:
    from edkit.api import correlations

    model, params = _model(args)
    if not 0 <= args.reference < model.lattice.L:  # refuse before solving anything
        raise InputError(f"--reference must be a site in 0..{model.lattice.L - 1}, got {args.reference}")
    N, Sz, extra = _sector(args, model)
    data = correlations(model, params, N=N, Sz=Sz, reference=args.reference, extra=extra)
    text = [f"{data['model']} L={data['L']} {data['bc']} {data['params']} sector {data['sector']}",
            f"ground-state degeneracy {data['ground_state_degeneracy']}, reference site {data['reference']}"]
    for layer, rows in data["layers"].items():
        text.append(f"layer {layer}:  j " + " ".join(f"{k:>11s}" for k in rows))
        for j in range(data["L"]):
            text.append(f"          {j:2d} " + " ".join(f"{rows[k][j]:11.6f}" for k in rows))
    _emit(args, data, "\n".join(text))
    return 0


def cmd_verify(args) -> int:
    from mappings.verifications import run_catalogue

    results = run_catalogue(args.names or None)
    checks = []
    for r in results:
        entry = {"name": r.name, "passed": r.passed, "details": r.to_dict()}
        if r.coefficients:
            entry["coefficients"] = r.coefficients
        checks.append(entry)
    lines = []
    for r in results:
        lines.append(f"[{'PASS' if r.passed else 'FAIL'}] {r.name}: {r.summary}")
        lines += [f"    {d}" for d in r.details]
        if r.coefficients:
            lines.append("    derived: " + ", ".join(f"{k} = {v}" for k, v in r.coefficients.items()))
        lines += [f"    printed: {p}" for p in r.printed]
        lines += [f"    residual: {k}: {v}" for k, v in r.difference.items()]
    n_ok = sum(r.passed for r in results)
    lines.append(f"{n_ok}/{len(results)} verifications passed")
    _emit(args, {"checks": checks}, "\n".join(lines))
    return 0 if n_ok == len(results) else EXIT_FAIL


def cmd_demo(args) -> int:
    """Verification report, then a small-cluster tour of the bilayer."""
    from edkit.api import correlations, gaps, spectrum

    status = cmd_verify(argparse.Namespace(names=None, json=False))
    print("\n== Kivelson bilayer, L=3 open, U=4, t_perp=0.5, t_m=1, half filling ==")
    sp = spectrum("kbp", {}, N=6, Sz=0, L=3, nev=4)
    print("lowest levels:", ", ".join(f"{e:.8f}" for e in sp["energies"]), f"(dim {sp['dimension']})")
    g = gaps("kbp", {}, N=6, Sz=0, L=3)
    print("gaps:", ", ".join(f"{k}={g[k]:.8f}" for k in ("charge_gap", "spin_gap", "pair_binding",
                                                         "neutral_gap")))
    al = spectrum("anderson", {}, N=6, Sz=0, L=3, nev=4)
    const = -4 * 3 / 4
    print("Anderson image (N_up=3, N_dn=3) + derived constant -U L/4:",
          ", ".join(f"{e + const:.8f}" for e in al["energies"]))
    c = correlations("kbp", {}, N=6, Sz=0, L=3)
    for layer, rows in c["layers"].items():
        print(f"layer {layer}: 2C(0,j) = " + ", ".join(f"{2 * x:+.6f}" for x in rows["C"])
              + " | N(0,j) = " + ", ".join(f"{x:+.6f}" for x in rows["N"]))
    return status


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edkit", description="Exact diagonalization of small "
                                "correlated-electron clusters, with verified mappings.")
    p.add_argument("--version", action="version", version=f"edkit {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("model", help="model name (see `edkit models`)")
        sp.add_argument("--L", type=int, required=True, help="sites per layer (rungs)")
        sp.add_argument("--bc", choices=("open", "periodic"), default="open")
        sp.add_argument("--param", action="append", metavar="NAME=VALUE",
                        help="parameter value (number); repeat for several")
        sp.add_argument("--sector", action="append", metavar="NAME=VALUE",
                        help="sector: N=<int>, Sz=<half-integer, e.g. 0.5>; default half filling")
        sp.add_argument("--json", action="store_true", help="print JSON")

    s = sub.add_parser("models", help="list models, parameters, defaults and sectors")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_models)
    s = sub.add_parser("spectrum", help="lowest levels of a sector")
    common(s)
    s.add_argument("--nev", type=int, default=1, help="number of levels (default 1)")
    s.set_defaults(func=cmd_spectrum)
    s = sub.add_parser("gaps", help="charge gap, spin gap, pair binding, neutral gap")
    common(s)
    s.set_defaults(func=cmd_gaps)
    s = sub.add_parser("correlations", help="ground-state correlators C, N, S and spin-spin")
    common(s)
    s.add_argument("--reference", type=int, default=0, help="reference site i of C(i, j)")
    s.set_defaults(func=cmd_correlations)
    s = sub.add_parser("verify", help="run the catalogue of symbolic verifications")
    s.add_argument("names", nargs="*", help="verification names (default: all)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_verify)
    s = sub.add_parser("demo", help="verification report and a small bilayer tour")
    s.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``edkit`` command."""
    from edkit.core.lattice import LatticeError
    from edkit.core.model import ModelError, SectorError
    from edkit.core.params import ParameterError
    from edkit.models import UnknownModelError
    from edkit.planning import TooLargeError
    from edkit.solver import ConvergenceError

    args = build_parser().parse_args(argv)
    if getattr(args, "nev", 1) is not None and getattr(args, "nev", 1) < 1:
        print("edkit: error: --nev must be at least 1", file=sys.stderr)
        return EXIT_INPUT
    try:
        return args.func(args)
    except (InputError, ParameterError, SectorError, LatticeError, ModelError, UnknownModelError,
            TooLargeError) as err:
        print(f"edkit: error: {err}", file=sys.stderr)
        return EXIT_INPUT
    except ConvergenceError as err:
        print(f"edkit: error: {err}", file=sys.stderr)
        return EXIT_FAIL
    except KeyError as err:  # unknown verification name
        print(f"edkit: error: {err.args[0]}", file=sys.stderr)
        return EXIT_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
