"""GPU benchmark of the matrix-free kernel: variants, bandwidth bound, Lanczos per sector (JSON).

Usage (on a machine with a CUDA device, CuPy and numba-cuda)::

    python benchmarks/gpu.py --check --rungs 8 --out benchmarks/results/gpu_h200.json
    python benchmarks/gpu.py --rungs 9 --only-matvec
    python benchmarks/gpu.py --rungs 8 --variants fused,split:64 --no-gap

What it does, in order (the JSON is rewritten after every stage, so a timeout keeps what was done):

1. versions (numba, numba-cuda, cupy), ``numba.cuda.is_available()``, the device (name, memory,
   multiprocessors); if numba.cuda cannot start, the reason (exit 3);
2. the device's memory bandwidth: a large device-to-device copy (bytes read + written / time);
3. ``--check``: every variant against the shared body's CPU launcher
   (:func:`edkit.engine.gpu_kernel.cpu_matvec`) and the CPU matrix-free kernel on the periodic
   KBP bilayer with 4 and 5 rungs and on a complex ring with flux, pair hopping and spin exchange
   (general words), to 1e-10; and the device Lanczos energy against the CPU one;
4. per ``--rungs L``: the periodic KBP bilayer (``U=4, t_perp=0.5, t_m=1``) at half filling: the
   matvec seconds of every variant (median of ``--repeats`` with CUDA events after warm-up) and
   their ratio to the bandwidth bound ``2 * 8 B * dim / bandwidth``, in each ``--orders`` order of
   the configurations (``ascending``: key ``matvec``; ``rcm``: ``matvec_rcm``, the order the CPU
   path's energy-only solves take; the check covers both); then (unless ``--only-matvec``)
   the Lanczos ground energy of the sectors ``N = 2L`` and, for the charge gap, ``2L +- 2``
   (``Sz = 0``): steps, seconds, energies, the variant ``auto`` chose, and the charge gap
   ``E(N+2) + E(N-2) - 2 E(N)``;
5. peak device memory (CuPy pool) and the smallest free memory seen (``cudaMemGetInfo``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

VALUES = {"U": 4.0, "t_perp": 0.5, "t_m": 1.0}
#: Configuration orders timed and checked (``MatrixFreeHamiltonian(order=...)``): the CPU path takes
#: ``rcm`` for energy-only solves; whether the device kernels gain from it too is measured here.
ORDERS = ("ascending", "rcm")
DEFAULT_VARIANTS = "fused,rows,stripe:64,split:64,tsplit:32,tsplit:64,transpose:32,transpose:64,transpose:128"
CHUNK = 1 << 28

REPORT: dict = {"benchmark": "gpu", "argv": sys.argv[1:]}
OUT: Path | None = None


def save() -> None:
    if OUT is not None:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(REPORT, indent=2, default=str))


def say(msg: str) -> None:
    print(msg, flush=True)


def versions() -> dict:
    from importlib import metadata

    out = {"python": platform.python_version(), "machine": platform.node()}
    for dist in ("numpy", "scipy", "numba", "numba-cuda", "cupy-cuda13x", "cupy-cuda12x", "cupy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def start_cuda() -> dict:
    """numba.cuda availability and the device; on failure, why (printed)."""
    info: dict = {}
    try:
        from edkit.engine.gpu_device import import_cuda

        cuda = import_cuda()  # numba-cuda 0.30 needs numpy.row_stack (removed in NumPy 2.5)

        info["numba_cuda_module"] = getattr(cuda, "__file__", "?")
        info["numba_cuda_available"] = bool(cuda.is_available())
        if not info["numba_cuda_available"] and not os.environ.get("NUMBA_ENABLE_CUDASIM"):
            import io
            from contextlib import redirect_stdout

            buf = io.StringIO()
            try:
                with redirect_stdout(buf):
                    cuda.detect()
            except Exception as err:  # noqa: BLE001
                buf.write(f"cuda.detect() raised {err!r}")
            info["detect"] = buf.getvalue()
    except Exception as err:  # noqa: BLE001
        info["numba_cuda_error"] = f"{type(err).__name__}: {err}"
        info["traceback"] = traceback.format_exc()
    try:
        from edkit.engine.gpu_device import device_info

        info.update(device_info())
    except Exception as err:  # noqa: BLE001
        info["device_error"] = f"{type(err).__name__}: {err}"
    return info


def pool_bytes() -> int:
    from edkit.engine.gpu_device import simulated

    if simulated():
        return 0
    import cupy

    return int(cupy.get_default_memory_pool().total_bytes())


PEAK = {"pool_bytes": 0, "min_free_bytes": None}


def sample_memory() -> None:
    from edkit.engine.gpu_device import device_info

    PEAK["pool_bytes"] = max(PEAK["pool_bytes"], pool_bytes())
    free = device_info()["free"]
    PEAK["min_free_bytes"] = free if PEAK["min_free_bytes"] is None else min(PEAK["min_free_bytes"], free)


def free_pool() -> None:
    from edkit.engine.gpu_device import simulated

    if not simulated():
        import cupy

        cupy.get_default_memory_pool().free_all_blocks()


def bandwidth(nbytes: int, repeats: int = 10) -> dict:
    """Device-to-device copy of ``nbytes``: (read + written bytes) / median time."""
    import cupy

    a = cupy.ones(nbytes // 8, dtype=np.float64)
    b = cupy.empty_like(a)
    times = []
    for r in range(repeats + 2):
        e0, e1 = cupy.cuda.Event(), cupy.cuda.Event()
        e0.record()
        cupy.cuda.runtime.memcpyAsync(b.data.ptr, a.data.ptr, a.nbytes, 3, 0)  # device to device
        e1.record()
        e1.synchronize()
        if r >= 2:
            times.append(cupy.cuda.get_elapsed_time(e0, e1) / 1e3)
    t = statistics.median(times)
    sample_memory()
    del a, b
    free_pool()
    return {"bytes": int(nbytes), "median_s": t, "bytes_per_s": 2 * nbytes / t, "method": "memcpy D2D"}


def max_abs_diff(a, b) -> float:
    """``max |a - b|`` in chunks of 2^28 entries (no full-size temporaries)."""
    xp = __import__("cupy") if not isinstance(a, np.ndarray) else np
    out = 0.0
    for s in range(0, a.shape[0], CHUNK):
        out = max(out, float(xp.max(xp.abs(a[s:s + CHUNK] - b[s:s + CHUNK]))))
    return out


def to_host(a) -> np.ndarray:
    return a if isinstance(a, np.ndarray) else a.get()


def flux_exotic_ring(L: int):
    """Complex ring: flux hopping, on-site U, a field, pair hopping and spin exchange (general words)."""
    import sympy

    from edkit.core.lattice import chain
    from edkit.core.model import Model, Term, density, density_density
    from edkit.core.modes import DN, SPINS, UP, Mode
    from edkit.core.params import Parameter

    lat = chain(L, "periodic", "c")
    t, phi, U, h, P, J = (sympy.Symbol(s, real=True) for s in ("t", "phi", "U", "h", "P", "J"))
    terms = []
    for (_, i), (_, j) in lat.chain_bonds("c"):
        for s in SPINS:
            fwd = ((Mode("c", j, s), True), (Mode("c", i, s), False))
            terms.append(Term(-t * sympy.exp(sympy.I * phi), fwd))
            terms.append(Term(-t * sympy.exp(-sympy.I * phi), tuple((m, not d) for m, d in reversed(fwd))))
        iu, idn, ju, jdn = (Mode("c", i, UP), Mode("c", i, DN), Mode("c", j, UP), Mode("c", j, DN))
        pair = ((iu, True), (idn, True), (jdn, False), (ju, False))
        terms += [Term(P, pair), Term(P, tuple((m, not d) for m, d in reversed(pair)))]
        flip = ((iu, True), (idn, False), (jdn, True), (ju, False))
        terms += [Term(J / 2, flip), Term(J / 2, tuple((m, not d) for m, d in reversed(flip)))]
    for i in range(L):
        terms.append(density_density(Mode("c", i, UP), Mode("c", i, DN), U, "U"))
        terms.append(density(Mode("c", i, UP), -h, "h"))
        terms.append(density(Mode("c", i, DN), h, "h"))
    params = {k: Parameter(k, v) for k, v in (("t", 1), ("phi", 0), ("U", 0), ("h", 0), ("P", 0), ("J", 0))}
    return Model("flux-exotic", lat, True, terms, params).check()


def check(variants: list[str]) -> dict:
    """Every variant against the CPU launcher of the shared body and the CPU kernel (1e-10)."""
    from edkit.core.model import Sector
    from edkit.engine.gpu_device import array_module, simulated
    from edkit.models import build_model

    xp = array_module()
    if simulated():  # tiny sectors: the simulator runs a Python thread per CUDA thread
        return _check([("kbp L=3 periodic (2,2)", build_model("kbp", 3, "periodic"), VALUES, Sector(2, 2)),
                       ("complex ring L=4 (2,1)", flux_exotic_ring(4),
                        {"t": 1.0, "phi": 0.3, "U": 4.0, "h": 0.25, "P": 0.4, "J": 0.7}, Sector(2, 1))],
                      variants, xp)
    return _check([("kbp L=4 periodic N=8 Sz=0", build_model("kbp", 4, "periodic"), VALUES, Sector(4, 4)),
             ("kbp L=5 periodic N=10 Sz=0", build_model("kbp", 5, "periodic"), VALUES, Sector(5, 5)),
             ("complex ring L=8 flux+U+pair hopping+exchange (4,3)", flux_exotic_ring(8),
              {"t": 1.0, "phi": 0.3, "U": 4.0, "h": 0.25, "P": 0.4, "J": 0.7}, Sector(4, 3))], variants, xp)


def _check(cases, variants, xp) -> dict:
    from edkit.engine.gpu_device import DeviceOperator
    from edkit.engine.gpu_device import lanczos_ground_energy as gpu_lanczos
    from edkit.engine.gpu_kernel import cpu_matvec
    from edkit.engine.matfree import MatrixFreeHamiltonian, lanczos_ground_energy

    rows, ok = [], True
    for (label, model, values, sector), order in [(c, o) for c in cases for o in ORDERS]:
        host = MatrixFreeHamiltonian(model, values, sector, order=order)
        label = f"{label} {order}"
        x = np.random.default_rng(7).standard_normal(host.shape[0]).astype(host.dtype)
        if host.dtype.kind == "c":
            x = x + 1j * np.random.default_rng(8).standard_normal(host.shape[0])
        y_cpu, dot_cpu = cpu_matvec(host, x)
        y_mf, _ = host.apply(x)
        scale = max(1.0, float(np.max(np.abs(y_cpu))))
        row = {"case": label, "dimension": int(host.shape[0]), "dtype": str(host.dtype),
               "cpu_launcher_vs_matfree": float(np.max(np.abs(y_cpu - y_mf))) / scale, "variants": {}}
        for v in variants:
            op = DeviceOperator(host, variant=v)
            xd = xp.asarray(x)
            y, dot = op.apply(xd)
            err = float(np.max(np.abs(to_host(y) - y_cpu))) / scale
            row["variants"][v] = {"max_rel_diff": err,
                                  "dot_diff": abs(dot - dot_cpu) / max(1.0, abs(dot_cpu))}
            good = err <= 1e-10 and row["variants"][v]["dot_diff"] <= 1e-10
            ok &= good
            say(f"check {label} [{v}]: max |y_gpu - y_cpu| / max|y| = {err:.1e}  {'OK' if good else 'FAIL'}")
        ok &= row["cpu_launcher_vs_matfree"] <= 1e-12
        op = DeviceOperator(host, variant="auto")
        e_gpu = gpu_lanczos(op)
        e_cpu = lanczos_ground_energy(host)
        row["lanczos"] = {"gpu": e_gpu["energy"], "cpu": e_cpu["energy"], "gpu_steps": e_gpu["iterations"],
                          "cpu_steps": e_cpu["iterations"], "diff": abs(e_gpu["energy"] - e_cpu["energy"])}
        good = row["lanczos"]["diff"] <= 1e-9
        ok &= good
        say(f"check {label}: Lanczos E_gpu = {e_gpu['energy']:.12f}, E_cpu = {e_cpu['energy']:.12f}, "
            f"diff {row['lanczos']['diff']:.1e}  {'OK' if good else 'FAIL'}")
        rows.append(row)
    return {"ok": bool(ok), "cases": rows}


def matvecs(L: int, variants: list[str], repeats: int, bw: float | None, order: str = "ascending") -> dict:
    """Matvec seconds of every variant on the half-filled sector of the L-rung periodic bilayer, with the
    configurations in ``order`` (:class:`edkit.engine.matfree.MatrixFreeHamiltonian`)."""
    from edkit.engine.gpu_device import DeviceOperator, check_memory, plan_bytes
    from edkit.engine.matfree import MatrixFreeHamiltonian
    from edkit.models import build_model

    model = build_model("kbp", L, "periodic")
    t0 = time.perf_counter()
    host = MatrixFreeHamiltonian(model, VALUES, model.sector(2 * L, 0), order=order)
    t_host = time.perf_counter() - t0
    dim = host.shape[0]
    op = DeviceOperator(host, variant="fused")
    check_memory(plan_bytes(dim, 8, op.table_bytes, 3), f"{L}-rung matvec benchmark")
    x, y, ref = op.empty(), op.empty(), op.empty()
    op.random(x, 1)
    op.timed(x, ref, "fused", repeats=1, warmup=0)
    bound = 2 * 8 * dim / bw if bw else None
    out = {"rungs": L, "order": order, "dimension": int(dim), "d_up": len(host.ups), "d_dn": len(host.dns),
           "host_tables_s": t_host, "table_bytes": op.table_bytes, "bound_s": bound, "variants": {}}
    for v in variants:
        try:
            times = op.timed(x, y, v, repeats=repeats, warmup=2)
            med = statistics.median(times)
            diff = max_abs_diff(y, ref)
            out["variants"][v] = {"median_s": med, "min_s": min(times), "times_s": times,
                                  "ratio_to_bound": med / bound if bound else None, "max_diff_vs_fused": diff}
            say(f"{L} rungs, dim {dim:,}, {order}: {v:11s} median {med * 1e3:8.3f} ms"
                + (f"  ({med / bound:5.2f}x the bandwidth bound {bound * 1e3:.3f} ms)" if bound else "")
                + f"  max|y - y_fused| {diff:.1e}")
        except Exception as err:  # noqa: BLE001
            out["variants"][v] = {"error": f"{type(err).__name__}: {err}"}
            say(f"{L} rungs: variant {v} failed: {err}")
        save()
    sample_memory()
    del x, y, ref, op
    free_pool()
    return out


def lanczos_sectors(L: int, gap: bool, variant: str) -> dict:
    """Device Lanczos ground energy of the half-filled sector (and N +- 2 for the charge gap)."""
    from edkit.engine.gpu_device import DeviceOperator, check_memory, plan_bytes
    from edkit.engine.gpu_device import lanczos_ground_energy as gpu_lanczos
    from edkit.engine.matfree import MatrixFreeHamiltonian
    from edkit.models import build_model

    model = build_model("kbp", L, "periodic")
    N0 = 2 * L
    out = {"rungs": L, "variant": variant, "sectors": []}
    energies = {}
    for N in ([N0, N0 - 2, N0 + 2] if gap else [N0]):
        t0 = time.perf_counter()
        host = MatrixFreeHamiltonian(model, VALUES, model.sector(N, 0))
        t_host = time.perf_counter() - t0
        op = DeviceOperator(host, variant=variant)
        check_memory(plan_bytes(host.shape[0], 8, op.table_bytes, 3), f"{L}-rung sector N={N}")
        t1 = time.perf_counter()
        res = gpu_lanczos(op, progress=None)
        t_l = time.perf_counter() - t1
        sample_memory()
        row = {"N": N, "Sz": 0, "dimension": int(host.shape[0]), "host_tables_s": t_host,
               "device_setup_s": t1 - t0 - t_host, "lanczos_s": t_l, "steps": res["iterations"],
               "seconds_per_step": t_l / max(1, res["iterations"]), "energy": res["energy"],
               "converged": res["converged"], "criterion": res["criterion"], "residual": res["residual"],
               "variant": f"{op.variant}" + (f":{op.width}" if op.width else ""), "tuning": op.tuning,
               "pool_bytes": pool_bytes()}
        energies[N] = res["energy"]
        out["sectors"].append(row)
        say(f"{L} rungs N={N}: dim {host.shape[0]:,}, E = {res['energy']:.12f}, {res['iterations']} steps, "
            f"Lanczos {t_l:.2f} s ({row['seconds_per_step'] * 1e3:.2f} ms/step, {row['variant']}), "
            f"host tables {t_host:.2f} s")
        del op, host
        free_pool()
        save()
    if gap:
        out["charge_gap"] = energies[N0 + 2] + energies[N0 - 2] - 2 * energies[N0]
        out["lanczos_s_total"] = sum(r["lanczos_s"] for r in out["sectors"])
        say(f"{L} rungs: charge gap {out['charge_gap']:.12f}, Lanczos {out['lanczos_s_total']:.2f} s in all")
    return out


def main(argv=None) -> int:
    global OUT
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rungs", type=int, nargs="*", default=[8], help="bilayer sizes (default 8)")
    p.add_argument("--out", help="write the JSON here too (rewritten after every stage)")
    p.add_argument("--check", action="store_true", help="correctness of every variant first")
    p.add_argument("--variants", default=DEFAULT_VARIANTS,
                   help=f"comma-separated (default {DEFAULT_VARIANTS})")
    p.add_argument("--only-matvec", action="store_true", help="no Lanczos")
    p.add_argument("--no-gap", action="store_true", help="half filling only (no N +- 2 sectors)")
    p.add_argument("--lanczos-variant", default="auto",
                   help="kernel variant of the Lanczos runs (default auto)")
    p.add_argument("--repeats", type=int, default=10, help="timed matvecs per variant (median; default 10)")
    p.add_argument("--bandwidth-bytes", type=float, default=4e9, help="size of the copy (default 4e9 bytes)")
    p.add_argument("--orders", default=",".join(ORDERS),
                   help="configuration orders of the matvec timings and the check (default ascending,rcm)")
    args = p.parse_args(argv)
    orders = [o.strip() for o in args.orders.split(",") if o.strip()]
    bad = [o for o in orders if o not in ORDERS]
    if bad:
        p.error(f"unknown order(s) {', '.join(bad)}; choose from {', '.join(ORDERS)}")
    OUT = Path(args.out) if args.out else None
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    REPORT["versions"] = versions()
    say("versions: " + json.dumps(REPORT["versions"]))
    t_import = time.perf_counter()
    import edkit.engine.gpu_device as gd

    REPORT["device"] = start_cuda()
    say("device: " + json.dumps({k: v for k, v in REPORT["device"].items() if k != "traceback"}))
    save()
    if not REPORT["device"].get("numba_cuda_available", False) or "device_error" in REPORT["device"]:
        say("numba.cuda is not usable here: " + json.dumps(REPORT["device"], indent=1))
        return 3
    try:
        t0 = time.perf_counter()
        gd.kernels()
        REPORT["kernels_build_s"] = time.perf_counter() - t0
    except Exception as err:  # noqa: BLE001
        REPORT["kernels_error"] = traceback.format_exc()
        save()
        say(f"building the numba.cuda kernels failed: {type(err).__name__}: {err}\n{traceback.format_exc()}")
        return 3
    REPORT["import_s"] = t0 - t_import
    bw = None
    if not gd.simulated():
        REPORT["bandwidth"] = bandwidth(int(args.bandwidth_bytes))
        bw = REPORT["bandwidth"]["bytes_per_s"]
        say(f"bandwidth (device-to-device copy of {args.bandwidth_bytes:.1e} B): {bw / 1e12:.2f} TB/s")
    save()
    status = 0
    if args.check:
        t0 = time.perf_counter()
        try:
            REPORT["check"] = check(variants)
        except Exception as err:  # noqa: BLE001
            REPORT["check"] = {"ok": False, "error": traceback.format_exc()}
            say(f"check raised {type(err).__name__}: {err}\n{traceback.format_exc()}")
        REPORT["check_s"] = time.perf_counter() - t0
        verdict = "all OK" if REPORT["check"]["ok"] else "FAILED"
        say(f"check: {verdict} ({REPORT['check_s']:.1f} s, with compilation)")
        status = 0 if REPORT["check"]["ok"] else 1
        save()
    REPORT["runs"] = []
    for L in args.rungs:
        run: dict = {"rungs": L}
        REPORT["runs"].append(run)
        try:
            for order in orders:  # "matvec" (ascending), "matvec_rcm", ...
                key = "matvec" + ("" if order == "ascending" else f"_{order}")
                run[key] = matvecs(L, variants, args.repeats, bw, order)
                save()
            if not args.only_matvec:
                run["lanczos"] = lanczos_sectors(L, not args.no_gap, args.lanczos_variant)
        except Exception as err:  # noqa: BLE001
            run["error"] = traceback.format_exc()
            say(f"{L} rungs failed: {type(err).__name__}: {err}\n{traceback.format_exc()}")
            status = status or 1
        free_pool()
        save()
    REPORT["peak"] = dict(PEAK)
    save()
    print(json.dumps(REPORT, indent=2, default=str))
    return status


if __name__ == "__main__":
    sys.exit(main())
