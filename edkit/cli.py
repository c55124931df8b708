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
from edkit.core.errors import InputError

EXIT_FAIL, EXIT_INPUT = 1, 2


#: Names accepted by ``edkit gaps --only`` (the keys of its output).
GAP_CHOICES = ("charge_gap", "spin_gap", "pair_binding", "neutral_gap")

def _pairs(items: Sequence[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InputError(f"--{what} expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def _sector(args, model) -> tuple[int, float | None, dict[str, float]]:
    """``--sector`` values with the model's defaults: ``(N, Sz, other sector quantities)``."""
    values = model.resolve_sector(_pairs(args.sector, "sector"))
    extra = {k: v for k, v in values.items() if k not in ("N", "Sz")}
    return values["N"], values.get("Sz"), extra


def _model(args):
    from edkit.core.lattice import LatticeError
    from edkit.models import build_model

    if args.L is None:  # only models without a length (hamo) accept a missing --L
        try:
            model = build_model(args.model, None, args.bc)
        except (LatticeError, TypeError):
            raise InputError(f"--L is required for model {args.model!r}") from None
    else:
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
            "sectors": list(m.sector_names),
            "summary": (factory.__doc__ or "").strip().splitlines()[0],
        })
    lines = []
    for d in data:
        params = ", ".join(f"{k}={v}" for k, v in d["parameters"].items())
        lines.append(f"{d['name']:10s} {d['summary']}\n{'':10s} parameters: {params}; "
                     f"sectors: {', '.join(d['sectors'])}")
    _emit(args, {"models": data}, "\n".join(lines))
    return 0


def _symmetries(args, allow_values: bool = True):
    """``--blocks all`` / ``--symmetry LABEL[=VALUE]`` as the ``symmetries`` argument of the API."""
    from edkit.core.params import parse_number

    items = getattr(args, "symmetry", None) or []
    if getattr(args, "blocks", None):
        if items:
            raise InputError("give either --blocks all or --symmetry, not both")
        return "all"
    if not items:
        return None
    out: dict[str, int | None] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not name.strip() or (sep and not value.strip()):
            raise InputError(f"--symmetry expects LABEL or LABEL=VALUE (e.g. k=0, Z=-1), got {item!r}")
        if not sep or value.strip().lower() == "all":
            out[name.strip()] = None
            continue
        if not allow_values:
            raise InputError(f"gaps search every block: give --symmetry {name.strip()} without a value")
        v = parse_number(value)
        if v != int(v):
            raise InputError(f"--symmetry {name.strip()} needs an integer quantum number, got {value!r}")
        out[name.strip()] = int(v)
    return out


def cmd_spectrum(args) -> int:
    from edkit.api import spectrum

    model, params = _model(args)
    N, Sz, extra = _sector(args, model)
    data = spectrum(model, params, N=N, Sz=Sz, nev=args.nev, extra=extra, symmetries=_symmetries(args),
                    method=args.method)
    text = [f"{data['model']} L={data['L']} {data['bc']} {data['params']}",
            f"sector {data['sector']}, dimension {data['dimension']:,} ({data['method']})"]
    if "levels" in data:
        if data["method"] != "blocks":
            text.append(f"block labels from the eigenvectors (symmetries {''.join(data['symmetries'])}):")
        unresolved = "unresolved (multiplet not complete among the computed levels)"
        text += [f"  E[{k}] = {lv['energy']:.12f}  block "
                 + (unresolved if lv["block"] is None else _block_text(lv["block"]))
                 for k, lv in enumerate(data["levels"])]
    else:
        text += [f"  E[{k}] = {e:.12f}" for k, e in enumerate(data["energies"])]
    if data["method"] == "matrix-free":
        text.append("degeneracies: not determined (matrix-free Lanczos gives the ground energy only)")
    else:
        text.append("degeneracies: " + ", ".join(f"{e:.10f} x{k}" for e, k in data["degeneracies"]))
    if "labels_note" in data:
        text.append(data["labels_note"])
    _emit(args, data, "\n".join(text))
    return 0


def cmd_gaps(args) -> int:
    from edkit.api import gaps

    model, params = _model(args)
    N, Sz, extra = _sector(args, model)
    data = gaps(model, params, N=N, Sz=Sz, extra=extra, symmetries=_symmetries(args, allow_values=False),
                only=args.only, method=args.method)
    text = [f"{data['model']} L={data['L']} {data['bc']} {data['params']} sector {data['sector']}",
            f"  E0 = {data['energy']:.12f}"]
    for key in GAP_CHOICES:
        v = data[key]
        shown = "not computed" if args.only and key not in args.only else "undefined"
        text.append(f"  {key:13s} = {shown if v is None else f'{v:.12f}'}")
    for row in data.get("sector_energies", []):
        where = ", ".join(f"{k}={row[k]}" for k in ("N", "Sz") if k in row)
        e = "no states" if row["energy"] is None else f"{row['energy']:.12f}"
        text.append(f"  E({where}) = {e}  ({row['source']})")
    if data.get("levels"):
        text += [f"  level {k} of the base sector: {lv['energy']:.12f}  block "
                 + ("unresolved" if lv["block"] is None else _block_text(lv["block"]))
                 for k, lv in enumerate(data["levels"])]
    text += [f"  note: {n}" for n in data.get("notes", [])]
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


def cmd_sweep(args) -> int:
    """Parameter sweep; every finished point is committed to the results store ``--out``."""
    from edkit.workflows.store import StoreError, write_csv, write_hdf5
    from edkit.workflows.sweep import GridError, run_sweep

    try:
        result = run_sweep(
            args.model, args.L, args.param, bc=args.bc, observables=args.observable or ["gaps"],
            sector=_pairs(args.sector, "sector") or None, nev=args.nev, reference=args.reference,
            out=args.out, migrate=args.migrate, workers=args.workers, threads=args.threads,
            scheduler=args.scheduler, local_cluster=args.local_cluster,
            cluster_workers=args.cluster_workers, retries=args.retries,
            progress=not (args.no_progress or args.json))
        rows = result.rows
        if args.csv:
            write_csv(rows, args.csv)
        if args.hdf5:
            write_hdf5(rows, args.hdf5, {"model": args.model})
    except (GridError, StoreError, ImportError, ConnectionError) as err:
        raise InputError(str(err)) from None
    failures = [{"task": {k: t[k] for k in ("L", "swept", "sector", "observable")}, "error": msg}
                for t, msg in result.failures]
    where = f" in {args.out}" if args.out else ""
    text = [f"{args.model}: {result.computed} point(s) computed, {result.skipped} already{where}, "
            f"{len(failures)} failed"]
    for r, rec in zip(rows, result.records):
        inputs = " ".join(f"{k}={v:g}" for k, v in {"L": rec["L"], **rec["swept"]}.items())
        vals = [(k, v) for k, v in rec["result"].items()][:6]
        shown = " ".join(f"{k}={'undefined' if v is None else f'{v:.10g}'}" for k, v in vals)
        text.append(f"  {inputs} [{r['observable']}] {shown}{' ...' if len(rec['result']) > 6 else ''}")
    text += [f"  FAILED {f['task']}: {f['error']}" for f in failures]
    _emit(args, {"computed": result.computed, "skipped": result.skipped, "failures": failures,
                 "rows": rows}, "\n".join(text))
    return EXIT_FAIL if failures else 0


def cmd_compare(args) -> int:
    """Compare a DMRG/QMC results file (CSV or JSON) with ED, point by point."""
    from edkit.workflows.compare import CompareError, compare_file

    try:
        report = compare_file(args.file, model=args.model, L=args.L, bc=args.bc, atol=args.atol,
                              rtol=args.rtol, nsigma=args.nsigma)
    except CompareError as err:
        raise InputError(str(err)) from None
    _emit(args, report.to_dict(), report.text())
    return 0 if report.ok else EXIT_FAIL


def _block_text(labels: dict) -> str:
    return " ".join(f"{k}={v:+d}" if k in "PZC" else f"{k}={v}" for k, v in labels.items()
                    if k != "K_over_pi") or "-"


def cmd_plan(args) -> int:
    from edkit.engine.blocks import select_symmetries
    from edkit.engine.planning import memory_limit, plan
    from edkit.engine.symmetry import resolve, survey

    model, params = _model(args)
    N, Sz, extra = _sector(args, model)
    vals = model.resolve(params)
    sector = model.sector(N, Sz, **extra)
    request = _symmetries(args)
    syms = []
    if request is not None:
        syms = resolve(model, vals, sector, select_symmetries(model, vals, sector, request))
    p = plan(model, sector, symmetries=syms)
    table = survey(model, vals, sector)
    data = {"model": model.name, "L": model.lattice.L, "bc": model.lattice.bc, "params": vals,
            "sector": {"N": N, "Sz": Sz, **extra} if model.spinful else {"N": N, **extra},
            "plan": p.as_dict(), "memory_limit": memory_limit(p.available), "symmetries": table}
    gib = 2**30
    text = [f"{model.name} L={model.lattice.L} {model.lattice.bc} sector {data['sector']}",
            f"  sector dimension  {p.sector_dimension:,} (basis built {p.built_dimension:,})"]
    if syms:
        text.append(f"  symmetries        {''.join(s.label for s in syms)}: largest block ~{p.dimension:,} "
                    f"(sector / {p.symmetry_reduction})")
    text += [f"  non-zeros         ~{p.nonzeros:,}{' per block' if syms else ''} "
             f"({'complex' if p.complex_values else 'real'})",
             f"  matrix            {p.matrix_bytes / gib:.2f} GiB; build peak {p.build_bytes / gib:.2f} GiB; "
             f"Lanczos vectors {p.vector_bytes / gib:.2f} GiB",
             f"  peak              {p.bytes / gib:.2f} GiB of {memory_limit(p.available) / gib:.1f} GiB "
             f"allowed ({p.available / gib:.1f} GiB available)",
             f"  matrix-free       {p.matrix_free_bytes / gib:.2f} GiB, ~{p.matrix_free_seconds:.0f} s "
             "(edkit.engine.matfree: ground energy by three-vector Lanczos; spectrum/gaps take it for "
             ">= 100,000 states or when the stored matrix does not fit; no constraints or blocks)",
             f"  time (rough)      build ~{p.build_seconds:.0f} s, Lanczos ~{p.solve_seconds:.0f} s"
             + (f" per block; {p.n_blocks_solved} of {p.n_blocks} blocks solved (k, -k paired): "
                f"~{p.n_blocks_solved * (p.build_seconds + p.solve_seconds):.0f} s" if syms else ""),
             f"  path              {p.path}"]
    text.append("  lattice symmetries here:")
    for row in table:
        status = "holds" if row["holds"] else f"does not hold: {row['reason']}"
        if row["holds"] and not row["blocks_available"]:
            status += " (no blocks with the QuSpin backend on this lattice)"
        text.append(f"    {row['label']} {row['name']:15s} {status}")
    _emit(args, data, "\n".join(text))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edkit", description="Exact diagonalization of small "
                                "correlated-electron clusters, with verified mappings.")
    p.add_argument("--version", action="version", version=f"edkit {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("model", help="model name (see `edkit models`)")
        sp.add_argument("--L", type=int, default=None,
                        help="sites per layer (rungs); required except for fixed-size models (hamo)")
        sp.add_argument("--bc", choices=("open", "periodic"), default="open")
        sp.add_argument("--param", action="append", metavar="NAME=VALUE",
                        help="parameter value (number); repeat for several")
        sp.add_argument("--sector", action="append", metavar="NAME=VALUE",
                        help="sector: N=<int>, Sz=<half-integer, e.g. 0.5>; default half filling")
        sp.add_argument("--json", action="store_true", help="print JSON")

    s = sub.add_parser("models", help="list models, parameters, defaults and sectors")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_models)
    def method_flag(sp):
        sp.add_argument("--method", choices=("auto", "stored", "matrix-free"), default="auto",
                        help="auto (default): ground energies of sectors >= 100,000 states, or too large "
                             "to store, matrix-free; stored: always build the sparse matrix; "
                             "matrix-free: always (ground energy only)")

    def symmetry_flags(sp):
        sp.add_argument("--symmetry", action="append", metavar="LABEL[=VALUE]",
                        help="lattice symmetry block: k (momentum 2 pi m/L, k=m), P (reflection), "
                             "Z (spin inversion), C (particle-hole); VALUE fixes the quantum number "
                             "(P=-1), none searches every block; checked on the model first")
        sp.add_argument("--blocks", choices=("all",), help="search every block of every symmetry "
                        "that holds here (levels are labelled with their block)")

    s = sub.add_parser("spectrum", help="lowest levels of a sector")
    common(s)
    s.add_argument("--nev", type=int, default=1, help="number of levels (default 1)")
    symmetry_flags(s)
    method_flag(s)
    s.set_defaults(func=cmd_spectrum)
    s = sub.add_parser("gaps", help="charge gap, spin gap, pair binding, neutral gap")
    common(s)
    symmetry_flags(s)
    method_flag(s)
    s.add_argument("--only", action="append", choices=GAP_CHOICES, metavar="GAP",
                   help="compute only this gap (repeatable; " + ", ".join(GAP_CHOICES)
                   + "): fewer sectors to solve on large clusters")
    s.set_defaults(func=cmd_gaps)
    s = sub.add_parser("plan", help="dimension, non-zeros, memory and path before building")
    common(s)
    symmetry_flags(s)
    s.set_defaults(func=cmd_plan)
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
    s = sub.add_parser("sweep", help="parameter sweep into a resumable results store (SQLite)")
    s.add_argument("model", help="model name (see `edkit models`)")
    s.add_argument("--L", required=True, help="size(s): 4, 2,3,4 or start:stop:count")
    s.add_argument("--bc", choices=("open", "periodic"), default="open")
    s.add_argument("--param", action="append", metavar="NAME=SPEC",
                   help="start:stop:count (inclusive), a,b,c or a value; repeat for several")
    s.add_argument("--sector", action="append", metavar="NAME=VALUE",
                   help="fixed sector (N=<int>, Sz=<half-integer>); default half filling at each L")
    s.add_argument("--observable", action="append", metavar="NAME",
                   help="energy, spectrum, gaps (default) or correlations; repeat for several")
    s.add_argument("--nev", type=int, default=4, help="levels for the spectrum observable (default 4)")
    s.add_argument("--reference", type=int, default=0, help="reference site of correlations")
    s.add_argument("--out", metavar="FILE", help="results store; finished points there are skipped")
    s.add_argument("--migrate", action="store_true",
                   help="adopt a store written by another edkit version (its points are kept)")
    s.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: cores; 1 = in this process)")
    s.add_argument("--threads", type=int, default=None,
                   help="BLAS threads per worker (default cores/workers)")
    s.add_argument("--scheduler", metavar="ADDRESS", help="run on the Dask scheduler at ADDRESS")
    s.add_argument("--local-cluster", action="store_true", help="run on a new Dask LocalCluster")
    s.add_argument("--cluster-workers", type=int, default=2, help="worker processes of --local-cluster")
    s.add_argument("--retries", type=int, default=2,
                   help="retries of a point whose worker died, or (Dask) that raised (default 2)")
    s.add_argument("--csv", metavar="FILE", help="also write this sweep's table as CSV")
    s.add_argument("--hdf5", metavar="FILE", help="also write this sweep's table as HDF5 (h5py)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_sweep)
    s = sub.add_parser("compare", help="compare DMRG/QMC results (CSV/JSON) with ED point by point")
    s.add_argument("file", help="CSV or JSON: parameters, sector, energy/E0../gaps/correlators")
    s.add_argument("--model", help="model of rows without a 'model' column")
    s.add_argument("--L", type=int, help="size of rows without an 'L' column")
    s.add_argument("--bc", choices=("open", "periodic"), default=None, help="default open")
    s.add_argument("--atol", type=float, default=1e-6, help="absolute tolerance (default 1e-6)")
    s.add_argument("--rtol", type=float, default=0.0, help="relative tolerance (default 0)")
    s.add_argument("--nsigma", type=float, default=3.0, help="error bars (<quantity>_err) times this")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_compare)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``edkit`` command."""
    from edkit.core.lattice import LatticeError
    from edkit.core.model import ModelError, SectorError
    from edkit.core.params import ParameterError
    from edkit.engine.planning import TooLargeError
    from edkit.engine.solver import ConvergenceError
    from edkit.engine.symmetry import SymmetryError
    from edkit.models import UnknownModelError

    args = build_parser().parse_args(argv)
    if getattr(args, "nev", 1) is not None and getattr(args, "nev", 1) < 1:
        print("edkit: error: --nev must be at least 1", file=sys.stderr)
        return EXIT_INPUT
    try:
        return args.func(args)
    except (InputError, ParameterError, SectorError, LatticeError, ModelError, UnknownModelError,
            TooLargeError, SymmetryError) as err:
        print(f"edkit: error: {err}", file=sys.stderr)
        return EXIT_INPUT
    except ConvergenceError as err:
        print(f"edkit: error: {err}", file=sys.stderr)
        return EXIT_FAIL
    except KeyError as err:  # unknown verification name
        print(f"edkit: error: {err.args[0]}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:  # `edkit models --json | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
