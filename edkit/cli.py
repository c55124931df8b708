"""The ``edkit`` command line (git-style subcommands).

Exit codes: 0 success; 1 a verification failed, a solver did not converge, or a bug in edkit
(an "internal error"; ``edkit --debug ...`` prints its traceback); 2 bad input (unknown model or
parameter, impossible sector, too large, malformed or repeated value), i.e. any
:class:`~edkit.core.errors.EdkitError`. Values are parsed as numbers only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
import traceback
from collections.abc import Sequence

from edkit import __version__
from edkit.core.errors import EdkitError, InputError
from edkit.observables.gaps import GAP_NAMES

EXIT_FAIL, EXIT_INPUT = 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


#: Names accepted by ``edkit gaps --only`` (the keys of its output; the gap table of the registry).
GAP_CHOICES = GAP_NAMES


def _pairs(items: Sequence[str] | None, what: str) -> dict[str, str]:
    """``NAME=VALUE`` options (``--param``, ``--sector``) as a dict; each name at most once.

    Raises
    ------
    InputError
        For an item without ``=``, an empty name or value, or a name given twice
        (``--param U=4 --param U=8`` is refused rather than read as ``U=8``).
    """
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InputError(f"--{what} expects NAME=VALUE, got {item!r}")
        name = name.strip()
        if name in out:
            from edkit.core.params import shown_name

            raise InputError(f"--{what} {shown_name(name)} is given twice ({out[name]!r}, then "
                             f"{value.strip()!r}); give each name once")
        out[name] = value.strip()
    return out


def _sector_values(model, given: dict[str, str]) -> dict:
    """``model.resolve_sector`` of the ``--sector`` values, refusing an absurd ``Sz`` first.

    (A workaround: ``Model.sector`` computes ``round(2 * Sz)``, which overflows for ``|Sz|``
    near the largest double instead of saying the sector is impossible.)
    """
    import math

    from edkit.core.model import SectorError

    values = model.resolve_sector(given)
    sz = values.get("Sz")
    if sz is not None and not math.isfinite(2 * sz):
        raise SectorError(f"Sz={sz:g} is impossible: |Sz| is at most half the number of electrons")
    return values


def _once(items: Sequence[str] | None, option: str) -> list[str]:
    """Values of a repeatable option, refusing one given twice (``--only spin_gap --only spin_gap``)."""
    seen: list[str] = []
    for item in items or []:
        if item in seen:
            raise InputError(f"{option} {item} is given twice; give each once")
        seen.append(item)
    return seen


class _Once(argparse.Action):
    """``store`` that refuses an option given twice (``--L 3 --L 4``) instead of keeping the last."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        marker = f"_given_{self.dest}"
        if getattr(namespace, marker, None) is not None:
            raise argparse.ArgumentError(self, f"given twice ({getattr(namespace, marker)}, then "
                                               f"{values}); give it once")
        setattr(namespace, marker, values)
        setattr(namespace, self.dest, values)


def _sector(args, model) -> tuple[int, float | None, dict[str, float]]:
    """``--sector`` values with the model's defaults: ``(N, Sz, other sector quantities)``."""
    values = _sector_values(model, _pairs(args.sector, "sector"))
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


def _emit(args, data, text: str) -> None:
    if args.json:
        print(json.dumps(data.to_dict() if hasattr(data, "to_dict") else data, indent=2))
    else:
        print(text)


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


def cmd_observables(args) -> int:
    """List the registered observables; with ``--model``, which of them apply to it and why not."""
    from edkit.observables import REGISTRY, load_families

    load_families()
    model = None
    if args.model is not None:
        from edkit.core.lattice import LatticeError
        from edkit.models import build_model

        if args.L is None:  # applicability reads the capabilities: any size will do
            try:
                model = build_model(args.model, None, args.bc)
            except (LatticeError, TypeError):
                model = build_model(args.model, 4, args.bc)
        else:
            model = build_model(args.model, args.L, args.bc)
    data, lines = [], []
    for obs in REGISTRY.values():
        row = obs.describe()
        opts = ", ".join(f"{k}={v!r}" for k, v in obs.options.items()) or "none"
        lines.append(f"{obs.name:14s} [{obs.kind}] {obs.summary}\n{'':14s} options: {opts}")
        if model is not None:
            why = obs.applies(model)
            row.update({"applies": why is None, "reason": why})
            if why is None:
                row["columns"] = obs.columns(model)
                shown = row["columns"] if len(row["columns"]) <= 8 else [*row["columns"][:7], "..."]
                lines.append(f"{'':14s} applies to {model.name}; columns: {', '.join(shown)}")
            else:
                lines.append(f"{'':14s} does not apply to {model.name}: {why}")
        data.append(row)
    out = {"observables": data}
    if model is not None:
        out.update({"model": model.name, "L": model.lattice.L, "bc": model.lattice.bc})
    _emit(args, out, "\n".join(lines))
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
        if name.strip() in out:
            raise InputError(f"--symmetry {name.strip()} is given twice; give each label once")
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


def _device(args) -> str:
    """``--device``, checked before any work (``gpu`` without CuPy or a CUDA device: exit 2)."""
    from edkit.engine.devices import check_device

    device = getattr(args, "device", "auto")
    if device == "gpu" and getattr(args, "method", "auto") not in ("auto", "gpu"):
        raise InputError(f"--method {args.method} runs on the CPU; give --device gpu with --method auto")
    return check_device(device)


def cmd_spectrum(args) -> int:
    from edkit.api import spectrum

    model, params = _model(args)
    N, Sz, extra = _sector(args, model)
    data = spectrum(model, params, N=N, Sz=Sz, nev=args.nev, extra=extra, symmetries=_symmetries(args),
                    method=args.method, device=_device(args))
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
    if data["method"] == "matrix-free" and not data["degeneracies"]:
        text.append("degeneracies: not determined (the matrix-free ground energy alone; --nev 2 or more "
                    "resolves the multiplicity)")
    else:
        text.append("degeneracies: " + ", ".join(f"{e:.10f} x{k}" for e, k in data["degeneracies"]))
    if "degeneracies_note" in data:
        text.append(data["degeneracies_note"])
    if data.get("residuals"):
        text.append(f"residuals |Hx - Ex|: at most {max(data['residuals']):.1e}")
    if "labels_note" in data:
        text.append(data["labels_note"])
    _emit(args, data, "\n".join(text))
    return 0


def cmd_gaps(args) -> int:
    from edkit.api import gaps

    model, params = _model(args)
    N, Sz, extra = _sector(args, model)
    only = _once(args.only, "--only") or None
    data = gaps(model, params, N=N, Sz=Sz, extra=extra, symmetries=_symmetries(args, allow_values=False),
                only=only, method=args.method, device=_device(args))
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
    data = correlations(model, params, N=N, Sz=Sz, reference=args.reference, extra=extra,
                        method=args.method, device=_device(args))
    text = [f"{data['model']} L={data['L']} {data['bc']} {data['params']} sector {data['sector']}",
            f"ground-state degeneracy {data['ground_state_degeneracy']}, reference site {data['reference']} "
            f"({data['method']})"]
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
            lines += _derived_lines(r.name, r.coefficients)
        lines += [f"    printed: {p}" for p in r.printed]
        lines += [f"    residual: {k}: {v}" for k, v in r.difference.items()]
    n_ok = sum(r.passed for r in results)
    lines.append(f"{n_ok}/{len(results)} verifications passed")
    _emit(args, {"checks": checks}, "\n".join(lines))
    return 0 if n_ok == len(results) else EXIT_FAIL


def _terminal_width() -> int:
    """Columns of the terminal (``COLUMNS`` or 100 when not a terminal), kept within 60..200."""
    return max(60, min(200, shutil.get_terminal_size((100, 24)).columns))


def _top_level_terms(expr: str) -> list[str]:
    """The terms of a sympy sum as printed (split at `` + `` / `` - `` outside parentheses)."""
    terms, depth, start = [], 0, 0
    for k, ch in enumerate(expr):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and k > start and expr.startswith((" + ", " - "), k):
            terms.append(expr[start:k])
            start = k + 1  # the next term keeps its sign: "- 2*x"
    terms.append(expr[start:])
    return terms


def shorten_expression(expr: str, budget: int) -> str:
    """A long printed expression cut to about ``budget`` characters at a term boundary.

    Short expressions are returned unchanged; a long one keeps its first whole terms (or the
    start of its first term) and says how many terms and characters the whole has.
    """
    if len(expr) <= budget:
        return expr
    terms = _top_level_terms(expr)
    size = f"[{len(terms):,} term{'s' if len(terms) != 1 else ''}, {len(expr):,} characters]"
    room = max(20, budget - len(size) - 5)
    shown = terms[0]
    for term in terms[1:]:
        if len(shown) + 1 + len(term) > room:
            break
        shown += " " + term
    if len(shown) > room:
        cut = shown[:room]
        shown = cut[:cut.rfind(" ")] if " " in cut[room // 2:] else cut
    return f"{shown} ... {size}"


def _derived_lines(name: str, coefficients: dict) -> list[str]:
    """The ``derived:`` coefficients of a verification, readable on the terminal.

    On one line when it fits; otherwise one coefficient per line, each long expression shortened
    to about two lines (``edkit verify NAME --json`` prints them whole).
    """
    width = _terminal_width()
    line = "    derived: " + ", ".join(f"{k} = {v}" for k, v in coefficients.items())
    if len(line) <= width:
        return [line]
    out, cut = ["    derived:"], False
    for key, value in coefficients.items():
        text = shorten_expression(str(value), 2 * (width - 10) - len(key) - 25)  # two lines at most
        cut = cut or text != str(value)
        out += textwrap.wrap(f"{key} = {text}", width, initial_indent=" " * 6, subsequent_indent=" " * 10,
                             break_on_hyphens=False)
    if cut:
        out += textwrap.wrap(f"(long expressions shortened; `edkit verify {name} --json` prints them "
                             "whole)", width, initial_indent=" " * 6, subsequent_indent=" " * 7)
    return out


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
    """Parameter sweep; every finished point is committed to the results store ``--out``.

    Ctrl-C or SIGTERM: a one-line message with the points saved, exit code 128 + signal.
    """
    from edkit.workflows.store import StoreError
    from edkit.workflows.sweep import GridError, OutputError, SweepInterrupted, run_sweep

    try:
        result = run_sweep(
            args.model, args.L, args.param, bc=args.bc, observables=args.observable or ["gaps"],
            sector=_pairs(args.sector, "sector") or None, nev=args.nev, reference=args.reference,
            out=args.out, migrate=args.migrate, workers=args.workers, threads=args.threads,
            scheduler=args.scheduler, local_cluster=args.local_cluster,
            cluster_workers=args.cluster_workers, retries=args.retries,
            progress=not (args.no_progress or args.json), csv=args.csv, hdf5=args.hdf5)
        rows = result.rows
    except (GridError, StoreError, OutputError, ImportError, ConnectionError) as err:
        raise InputError(str(err)) from None
    except SweepInterrupted as stop:  # says how many points are saved; other interrupts: main()
        print(f"edkit: {stop}", file=sys.stderr)
        return 128 + int(stop.signal)
    failures = [{"task": {k: t[k] for k in ("L", "swept", "sector", "observable")}, "error": msg}
                for t, msg in result.failures]
    where = f" in {args.out}" if args.out else ""
    meanwhile = f", {result.elsewhere} by another run meanwhile" if result.elsewhere else ""
    text = [f"{args.model}: {result.computed} point(s) computed, {result.skipped} already{where}"
            f"{meanwhile}, {len(failures)} failed"]
    for r, rec in zip(rows, result.records):
        inputs = " ".join(f"{k}={v:g}" for k, v in {"L": rec["L"], **rec["swept"]}.items())
        vals = [(k, v) for k, v in rec["result"].items()][:6]
        shown = " ".join(f"{k}={'undefined' if v is None else f'{v:.10g}'}" for k, v in vals)
        text.append(f"  {inputs} [{r['observable']}] {shown}{' ...' if len(rec['result']) > 6 else ''}")
    text += [f"  FAILED {f['task']}: {f['error']}" for f in failures]
    _emit(args, {"computed": result.computed, "skipped": result.skipped, "elsewhere": result.elsewhere,
                 "failures": failures, "rows": rows}, "\n".join(text))
    return EXIT_FAIL if failures else 0


def cmd_compare(args) -> int:
    """Compare a DMRG/QMC results file (CSV or JSON) with ED, point by point."""
    from edkit.workflows.compare import CompareError, compare_file

    try:
        report = compare_file(args.file, model=args.model, L=args.L, bc=args.bc, atol=args.atol,
                              rtol=args.rtol, nsigma=args.nsigma, method=args.method,
                              samples=args.samples, seed=args.seed)
    except CompareError as err:
        raise InputError(str(err)) from None
    _emit(args, report.to_dict(), report.text())
    return 0 if report.ok else EXIT_FAIL


def _block_text(labels: dict) -> str:
    return " ".join(f"{k}={v:+d}" if k in "PZC" else f"{k}={v}" for k, v in labels.items()
                    if k != "K_over_pi") or "-"


def _plan_gpu(data: dict, text: list, model, sector, syms, nev: int, device: str, p) -> bool:
    """The GPU lines of ``edkit plan`` (:func:`edkit.engine.devices.gpu_plan`); whether ``--device gpu``
    is refused (the plan is printed, then exit 2)."""
    from edkit.engine.devices import gpu_plan

    gpu = gpu_plan(model, sector, device, syms)
    if gpu is not None:
        data["gpu"] = gpu
        text.append(f"  gpu               {gpu['text']}")
    return device == "gpu" and p.choice is not None and p.choice.backend is None


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
    from edkit.engine.devices import use

    device = _device(args)
    with use(device):
        p = plan(model, sector, symmetries=syms, nev=args.nev, method=args.method)
    table = survey(model, vals, sector)
    data = {"model": model.name, "L": model.lattice.L, "bc": model.lattice.bc, "params": vals,
            "sector": {"N": N, "Sz": Sz, **extra} if model.spinful else {"N": N, **extra},
            "plan": p.as_dict(), "memory_limit": memory_limit(p.available), "symmetries": table}
    text = [f"{model.name} L={model.lattice.L} {model.lattice.bc} sector {data['sector']}",
            *p.text_lines()]
    gpu_refused = _plan_gpu(data, text, model, sector, syms, args.nev, device, p)
    text.append("  lattice symmetries here:")
    for row in table:
        status = "holds" if row["holds"] else f"does not hold: {row['reason']}"
        if row["holds"] and not row["blocks_available"]:
            status += " (no blocks with the QuSpin backend on this lattice)"
        text.append(f"    {row['label']} {row['name']:15s} {status}")
    _emit(args, data, "\n".join(text))
    return EXIT_INPUT if gpu_refused else 0


def _builtin_observables() -> list[str]:
    """Registered observable names, without importing the study modules (fast CLI start)."""
    from edkit.observables import REGISTRY

    return list(REGISTRY)


def add_model_arguments(sp: argparse.ArgumentParser, sector_help: str) -> None:
    """The arguments that name a model and its sector: ``model``, ``--L``, ``--bc``, ``--param``,
    ``--sector`` (its help text says what the sector means for the command)."""
    sp.add_argument("model", help="model name (see `edkit models`)")
    sp.add_argument("--L", type=int, default=None, action=_Once,
                    help="sites per layer (rungs); required except for fixed-size models (hamo)")
    sp.add_argument("--bc", choices=("open", "periodic"), default="open", action=_Once)
    sp.add_argument("--param", action="append", metavar="NAME=VALUE",
                    help="parameter value (number); repeat for several")
    sp.add_argument("--sector", action="append", metavar="NAME=VALUE", help=sector_help)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edkit", description="Exact diagonalization of small "
                                "correlated-electron clusters, with verified mappings.")
    p.add_argument("--version", action="version", version=f"edkit {__version__}")
    p.add_argument("--debug", action="store_true",
                   help="print the traceback of an error (for reporting a bug in edkit)")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        add_model_arguments(sp, "sector: N=<int>, Sz=<half-integer, e.g. 0.5>; default half filling")
        sp.add_argument("--json", action="store_true", help="print JSON")

    s = sub.add_parser("models", help="list models, parameters, defaults and sectors")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_models)
    s = sub.add_parser("observables", help="list observables (sweep --observable, compare columns)")
    s.add_argument("--model", help="say which observables apply to this model (and why not)")
    s.add_argument("--L", type=int, default=None, help="size of --model (default: any)")
    s.add_argument("--bc", choices=("open", "periodic"), default="open", help="boundary of --model")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_observables)
    def method_flag(sp):
        sp.add_argument("--method", choices=("auto", "stored", "matrix-free"), default="auto", action=_Once,
                        help="auto (default): sectors >= 100,000 states, or too large to store, "
                             "matrix-free when it is faster (up to 10 levels); stored: always build the "
                             "sparse matrix; matrix-free: always (ground energy, ground state, up to 10 "
                             "levels; no constraints)")

    def device_flag(sp):
        sp.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto", action=_Once,
                        help="auto (default): the GPU for ground energies of sectors >= 200,000 states when "
                             "CuPy and a CUDA device are present; cpu: never the GPU; gpu: every ground "
                             "energy on the GPU (needs pip install 'edkit[gpu]')")

    def symmetry_flags(sp):
        sp.add_argument("--symmetry", action="append", metavar="LABEL[=VALUE]",
                        help="lattice symmetry block: k (momentum 2 pi m/L, k=m), P (reflection), "
                             "Z (spin inversion), C (particle-hole); VALUE fixes the quantum number "
                             "(P=-1), none searches every block; checked on the model first")
        sp.add_argument("--blocks", choices=("all",), action=_Once,
                        help="search every block of every symmetry "
                        "that holds here (levels are labelled with their block)")

    s = sub.add_parser("spectrum", help="lowest levels of a sector")
    common(s)
    s.add_argument("--nev", type=int, default=1, action=_Once, help="number of levels (default 1)")
    symmetry_flags(s)
    method_flag(s)
    device_flag(s)
    s.set_defaults(func=cmd_spectrum)
    s = sub.add_parser("gaps", help="charge gap, spin gap, pair binding, neutral gap")
    common(s)
    symmetry_flags(s)
    method_flag(s)
    device_flag(s)
    s.add_argument("--only", action="append", choices=GAP_CHOICES, metavar="GAP",
                   help="compute only this gap (repeatable; " + ", ".join(GAP_CHOICES)
                   + "): fewer sectors to solve on large clusters")
    s.set_defaults(func=cmd_gaps)
    s = sub.add_parser("plan", help="dimension, non-zeros, memory and path before building")
    common(s)
    symmetry_flags(s)
    method_flag(s)
    device_flag(s)
    s.add_argument("--nev", type=int, default=1, action=_Once,
                   help="levels the run would ask for (default 1): the plan for that request")
    s.set_defaults(func=cmd_plan)
    s = sub.add_parser("correlations", help="ground-state correlators C, N, S and spin-spin")
    common(s)
    s.add_argument("--reference", type=int, default=0, action=_Once, help="reference site i of C(i, j)")
    method_flag(s)
    device_flag(s)
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
                   help=f"{', '.join(_builtin_observables())} (default gaps), or a model family's "
                        "(see `edkit observables --model NAME`); repeat or comma-separate for several")
    s.add_argument("--nev", type=int, default=4, help="levels for the spectrum observable (default 4)")
    s.add_argument("--reference", type=int, default=0, help="reference site of correlations")
    s.add_argument("--out", metavar="FILE",
                   help="results store; finished points there are skipped, and runs sharing it "
                        "split the points")
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
    s.add_argument("--model", action=_Once, help="model of rows without a 'model' column")
    s.add_argument("--L", type=int, action=_Once, help="size of rows without an 'L' column")
    s.add_argument("--bc", choices=("open", "periodic"), default=None, action=_Once, help="default open")
    s.add_argument("--atol", type=float, default=1e-6, action=_Once,
                   help="absolute tolerance (default 1e-6)")
    s.add_argument("--rtol", type=float, default=0.0, action=_Once, help="relative tolerance (default 0)")
    s.add_argument("--nsigma", type=float, default=3.0, action=_Once,
                   help="verdict for values with error bars (<quantity>_err): |z| <= this many sigmas "
                        "(default 3)")
    s.add_argument("--method", choices=("auto", "exact", "ftlm"), default="auto", action=_Once,
                   help="ED side of finite-temperature (beta) rows (default auto: exact where it fits)")
    s.add_argument("--samples", type=int, default=20, action=_Once,
                   help="FTLM random vectors for beta rows (default 20)")
    s.add_argument("--seed", type=int, default=0, action=_Once, help="FTLM seed (default 0)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_compare)
    from edkit.cli_dynamics import register as register_dynamics

    register_dynamics(sub)
    from edkit.cli_thermal import register as register_thermal

    register_thermal(sub)
    for sp in sub.choices.values():  # `edkit spectrum ... --debug` as well as `edkit --debug spectrum ...`
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``edkit`` command.

    Returns the exit code: 0 success; 2 for any :class:`~edkit.core.errors.EdkitError` (the request
    cannot be done as asked; one line ``edkit: error: ...``); 1 for a failed verification, a
    :class:`~edkit.engine.solver.ConvergenceError`, or any other exception, which is a bug in edkit
    (``edkit: internal error: ...``; with ``--debug`` the traceback is printed too). Malformed
    command lines exit with 2 through argparse (``SystemExit``).
    """
    args = build_parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    try:
        nev = getattr(args, "nev", None)
        if nev is not None and nev < 1:
            raise InputError(f"--nev must be at least 1, got {nev}")
        return args.func(args)
    except BrokenPipeError:  # `edkit models --json | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print("edkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except EdkitError as err:
        if debug:
            traceback.print_exc()
        print(f"edkit: error: {_message(err)}", file=sys.stderr)
        return EXIT_FAIL if _is_convergence(err) else EXIT_INPUT
    except Exception as err:  # noqa: BLE001  (anything else is a bug: say so, never blame the input)
        if debug:
            traceback.print_exc()
        hint = "the traceback is above" if debug else "run again with --debug for the traceback"
        print(f"edkit: internal error: {type(err).__name__}: {_message(err)} "
              f"(this is a bug in edkit; {hint})", file=sys.stderr)
        return EXIT_FAIL


#: Control characters other than line breaks and tabs, shown escaped (a message echoes user text:
#: a carriage return or a terminal escape sequence must not rewrite the terminal).
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F) if chr(c) not in "\n\t"}


def _message(err: BaseException) -> str:
    """``str(err)`` with control characters escaped; never empty and never failing."""
    try:
        text = str(err)
    except Exception:  # noqa: BLE001
        text = ""
    return (text or type(err).__name__).translate(_CONTROL)


def _is_convergence(err: BaseException) -> bool:
    """Whether ``err`` is the solver's ConvergenceError (exit code 1, not 2)."""
    try:
        from edkit.engine.solver import ConvergenceError
    except ImportError:  # pragma: no cover
        return type(err).__name__ == "ConvergenceError"
    return isinstance(err, ConvergenceError)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
