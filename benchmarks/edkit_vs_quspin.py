"""edkit vs hand-written QuSpin on the same sector, in the same process: time, peak memory, ratio.

Usage::

    python benchmarks/edkit_vs_quspin.py [--case hubbard12 --case kbp6 ...] [--out results.json]

Cases (all at half filling, ``Sz = 0``, periodic):

- ``hubbard12``  Hubbard ring L=12, U=4, t=1: full (N_up, N_dn) sector (853,776 states), the k=0
  block, and the ground state searched over every (k, P, Z) block.
- ``kbp6``       KBP bilayer ring, 6 rungs, U=4, t_perp=0.5, t_m=1 (mu_p=-U/2, mu_m=0): full
  sector (853,776 states), k=0 block, ground state over every block, and the charge gap
  E(N+2) + E(N-2) - 2E(N) without symmetries and over all momentum blocks.
- ``hubbard14``  Hubbard ring L=14: the k=0 block only (11.8M-state sector, ~845k in k=0).
- ``small``      a quick smoke run (L=8), a few seconds.

"hand" is QuSpin called directly (basis, static list written by hand, ``hamiltonian(...).tocsr()``,
``scipy.sparse.linalg.eigsh`` with the same ``ncv=40``, ``tol=1e-12`` and seeded start vector as
edkit's solver); "edkit" is the public API (:func:`edkit.api.spectrum` / ``ground_energy``), which
includes parameter resolution, the memory plan, the symbolic-to-numeric compilation and checks.
The overhead rows use ``method="stored"`` (the same algorithm as the hand-written code); the rows
marked "edkit default method" use the default, which above 100,000 states computes the ground
energy matrix-free (:data:`edkit.api.MATRIX_FREE_DIMENSION`).
Both run under the same thread settings (see ``benchmarks/common.py``). ``ratio`` is edkit / hand
wall time. Peak memory is the RSS rise during the phase (sampled every 20 ms; freed memory is
returned to the OS between phases with ``malloc_trim``).
"""

from __future__ import annotations

from common import PeakSampler, emit, machine, timed  # isort: skip  (sets threads before numpy)

import argparse  # noqa: E402
import ctypes  # noqa: E402
import gc  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse.linalg as sla  # noqa: E402
from quspin.basis import spinful_fermion_basis_general  # noqa: E402
from quspin.operators import hamiltonian  # noqa: E402

from edkit.api import ground_energy, spectrum  # noqa: E402


def trim() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def eigsh_like_edkit(H, seed: int = 0) -> float:
    """Lowest eigenvalue with the settings edkit's solver uses (ncv 40, tol 1e-12, seeded v0)."""
    dim = H.shape[0]
    rng = np.random.default_rng(seed)
    v0 = rng.standard_normal(dim)
    if np.iscomplexobj(H.data):
        v0 = v0 + 1j * rng.standard_normal(dim)
    w = sla.eigsh(H, k=1, which="SA", v0=v0, ncv=min(dim, 40), tol=1e-12, return_eigenvectors=False)
    return float(np.min(w))


# ------------------------------------------------------------------------- hand-written QuSpin
def hubbard_static(L: int, t: float, U: float) -> list:
    hop = [[-t, i, (i + 1) % L] for i in range(L)] + [[-t, (i + 1) % L, i] for i in range(L)]
    return [["+-|", hop], ["|+-", hop], ["n|n", [[U, i, i] for i in range(L)]]]


def kbp_static(L: int, U: float, t_perp: float, t_m: float) -> tuple[list, float]:
    """KBP at mu_p = -U/2, mu_m = 0; sites p_i = i, m_i = L + i. Returns (static, constant)."""
    m = [L + i for i in range(L)]
    hop = [[-t_m, m[i], m[(i + 1) % L]] for i in range(L)] + [[-t_m, m[(i + 1) % L], m[i]] for i in range(L)]
    hop += [[-t_perp, i, m[i]] for i in range(L)] + [[-t_perp, m[i], i] for i in range(L)]
    dens = [[U / 2, i] for i in range(L)]  # -mu_p n_p with mu_p = -U/2
    static = [["+-|", hop], ["|+-", hop], ["n|n", [[-U, i, i] for i in range(L)]],
              ["n|", dens], ["|n", dens]]
    return static, -U / 2 * L  # -mu_p * (-1/2) * 2 per rung


def hand_run(n_sites: int, nf: tuple[int, int], static: list, constant: float = 0.0,
             blocks: dict | None = None) -> dict:
    out: dict = {}
    with PeakSampler() as mem:
        t = time.perf_counter()
        basis = spinful_fermion_basis_general(n_sites, Nf=nf, **(blocks or {}))
        dtype = np.float64
        H = hamiltonian(static, [], basis=basis, dtype=dtype, check_herm=False, check_symm=False,
                        check_pcon=False).tocsr()
        out["build_s"] = round(time.perf_counter() - t, 3)
        with timed(out, "solve_s"):
            out["energy"] = eigsh_like_edkit(H) + constant
        out["dimension"], out["nonzeros"] = int(H.shape[0]), int(H.nnz)
        del H, basis
    out["total_s"] = round(out["build_s"] + out["solve_s"], 3)
    out["peak_gib"] = mem.delta_gib
    trim()
    return out


def edkit_run(fn, **kw) -> dict:
    out: dict = {}
    with PeakSampler() as mem:
        with timed(out, "total_s"):
            res = fn(**kw)
    out["peak_gib"] = mem.delta_gib
    if isinstance(res, dict):
        out["energy"] = res["energies"][0]
        out["dimension"] = res["dimension"]
        if "ground_block" in res:
            out["ground_block"] = res["ground_block"]
            out["blocks_solved"] = sum(1 for b in res.get("blocks", []) if b["mirror_of"] is None)
    else:
        out["energy"] = res
    trim()
    return out


def compare(name: str, hand: dict, ed: dict) -> dict:
    return {"case": name, "hand_quspin": hand, "edkit": ed,
            "ratio_edkit_over_hand": round(ed["total_s"] / hand["total_s"], 3),
            "energy_difference": abs(ed["energy"] - hand["energy"])}


# ------------------------------------------------------------------------------------- cases
def hubbard_case(L: int, which: tuple[str, ...]) -> list[dict]:
    t, U = 1.0, 4.0
    nf = (L // 2, L // 2)
    static = hubbard_static(L, t, U)
    T = [(i + 1) % L for i in range(L)]
    out = []
    common = {"values": {"t": t, "U": U}, "N": L, "Sz": 0.0, "L": L, "bc": "periodic"}
    if "full" in which:
        hand = hand_run(L, nf, static)
        ed = edkit_run(spectrum, model="hubbard", method="stored", **common)
        out.append(compare(f"hubbard L={L} full sector", hand, ed))
        ed = edkit_run(spectrum, model="hubbard", **common)  # default: matrix-free above 100k states
        out.append(compare(f"hubbard L={L} full sector, edkit default method", hand, ed))
    if "k0" in which:
        hand = hand_run(L, nf, static, blocks={"kblock": (T, 0)})
        ed = edkit_run(spectrum, model="hubbard", symmetries={"k": 0}, **common)
        out.append(compare(f"hubbard L={L} k=0 block", hand, ed))
    if "all" in which:
        ed = edkit_run(spectrum, model="hubbard", symmetries="all", **common)
        out.append({"case": f"hubbard L={L} ground state over every (k, P, Z) block", "edkit": ed})
    return out


def kbp_case(L: int, which: tuple[str, ...]) -> list[dict]:
    U, t_perp, t_m = 4.0, 0.5, 1.0
    vals = {"U": U, "t_perp": t_perp, "t_m": t_m}
    static, const = kbp_static(L, U, t_perp, t_m)
    n = 2 * L
    T = [(i + 1) % L for i in range(L)] + [L + (i + 1) % L for i in range(L)]
    out = []
    common = {"values": vals, "L": L, "bc": "periodic"}
    if "full" in which:
        hand = hand_run(n, (L, L), static, const)
        ed = edkit_run(spectrum, model="kbp", N=2 * L, Sz=0.0, method="stored", **common)
        out.append(compare(f"kbp bilayer {L} rungs full sector", hand, ed))
        ed = edkit_run(spectrum, model="kbp", N=2 * L, Sz=0.0, **common)
        out.append(compare(f"kbp bilayer {L} rungs full sector, edkit default method", hand, ed))
    if "k0" in which:
        hand = hand_run(n, (L, L), static, const, blocks={"kblock": (T, 0)})
        ed = edkit_run(spectrum, model="kbp", N=2 * L, Sz=0.0, symmetries={"k": 0}, **common)
        out.append(compare(f"kbp bilayer {L} rungs k=0 block", hand, ed))
    if "all" in which:
        ed = edkit_run(spectrum, model="kbp", N=2 * L, Sz=0.0, symmetries="all", **common)
        out.append({"case": f"kbp bilayer {L} rungs ground state over every (k, P, Z) block", "edkit": ed})
    if "gap" in which:
        from edkit.models import build_model

        model = build_model("kbp", L, "periodic")
        rows = {}
        for label, sym, method in (("without symmetries", None, "stored"),
                                   ("without symmetries, default method", None, "auto"),
                                   ("momentum blocks", ["k"], "auto")):
            energies, secs = {}, {}
            with PeakSampler() as mem:
                for N in (2 * L - 2, 2 * L, 2 * L + 2):
                    t = time.perf_counter()
                    energies[N] = ground_energy(model, vals, N, 0.0, symmetries=sym, method=method)
                    secs[N] = round(time.perf_counter() - t, 3)
                    trim()
            gap = energies[2 * L + 2] + energies[2 * L - 2] - 2 * energies[2 * L]
            rows[label] = {"energies": energies, "seconds": secs, "total_s": round(sum(secs.values()), 3),
                           "charge_gap": gap, "peak_gib": mem.delta_gib}
        out.append({"case": f"kbp bilayer {L} rungs charge gap (three sectors)", "edkit": rows,
                    "speedup_blocks": round(rows["without symmetries"]["total_s"]
                                            / rows["momentum blocks"]["total_s"], 2),
                    "speedup_default": round(rows["without symmetries"]["total_s"]
                                             / rows["without symmetries, default method"]["total_s"], 2),
                    "gap_difference": max(abs(rows["without symmetries"]["charge_gap"] - r["charge_gap"])
                                          for r in rows.values())})
    return out


CASES = {
    "small": lambda: hubbard_case(8, ("full", "k0", "all")) + kbp_case(4, ("full", "k0", "all")),
    "hubbard12": lambda: hubbard_case(12, ("full", "k0", "all")),
    "kbp6": lambda: kbp_case(6, ("full", "k0", "all", "gap")),
    "hubbard14": lambda: hubbard_case(14, ("k0",)),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", action="append", choices=sorted(CASES), help="cases (default: small)")
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args()
    start = time.perf_counter()
    info = machine()
    hand_run(6, (3, 3), hubbard_static(6, 1.0, 4.0))  # warm-up (numba JIT inside QuSpin)
    edkit_run(spectrum, model="hubbard", values={}, N=6, Sz=0.0, L=6, bc="periodic", symmetries="all")
    results = []
    for name in args.case or ["small"]:
        results.extend(CASES[name]())
    import os

    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    data = {"benchmark": "edkit vs hand-written QuSpin, same sector, same process",
            "machine": info, "results": results, "wall_s": round(time.perf_counter() - start, 1)}
    emit(data, args.out)


if __name__ == "__main__":
    main()
