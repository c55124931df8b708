"""Matrix-free matvec (edkit.engine.matfree, numba) vs the stored CSR matvec, per non-zero.

Usage::

    python benchmarks/matvec.py [--case hubbard12 --case kbp6 ...] [--repeat 5] [--out results.json]

For each case: the stored matrix (edkit's QuSpin path, CSR, SciPy's single-threaded matvec) and the
matrix-free operator on the same sector and random vector (basis orders mapped onto each other);
checks ``max |y_free - y_csr|``, and reports
seconds per matvec, nanoseconds per stored non-zero, the ratio (matrix-free / stored; the issue's goal
is <= 3) with 1 and 2 numba threads, and the memory each needs besides the vectors. Sectors above
20 million states (``kbp8``: 165.6M) are timed matrix-free only, per *estimated* non-zero of the
matrix that would have been stored. ``--lanczos`` adds a ground-state comparison: edkit's stored
ARPACK path vs the matrix-free three-vector Lanczos.
"""

from __future__ import annotations

from common import emit, machine  # isort: skip  (sets threads before numpy)

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from edkit.engine.backend_quspin import make_space, operator_matrix  # noqa: E402
from edkit.engine.matfree import MatrixFreeHamiltonian, lanczos_ground_energy  # noqa: E402
from edkit.engine.planning import plan  # noqa: E402
from edkit.engine.solver import lowest  # noqa: E402
from edkit.models import build_model  # noqa: E402

CASES = {
    "hubbard10": ("hubbard", 10, {"U": 4.0}, 10),
    "hubbard12": ("hubbard", 12, {"U": 4.0}, 12),
    "kbp5": ("kbp", 5, {"U": 4.0, "t_perp": 0.5, "t_m": 1.0}, 10),
    "kbp6": ("kbp", 6, {"U": 4.0, "t_perp": 0.5, "t_m": 1.0}, 12),
    "kbp8": ("kbp", 8, {"U": 4.0, "t_perp": 0.5, "t_m": 1.0}, 16),  # matrix-free only (1.3 GB vectors)
}
STORED_LIMIT = 20_000_000  # no stored matrix above this dimension


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def quspin_to_free(space, F: MatrixFreeHamiltonian) -> np.ndarray:
    """Index in the matrix-free basis of each QuSpin basis state (same Jordan-Wigner signs)."""
    n = F.n
    states = np.asarray(space.basis.states, dtype=np.int64)
    up_q, dn_q = states >> n, states & ((1 << n) - 1)
    u = np.zeros_like(states)
    d = np.zeros_like(states)
    for k in range(n):  # QuSpin: orbital k is bit n-1-k of each half; here bit k
        u |= ((up_q >> (n - 1 - k)) & 1) << k
        d |= ((dn_q >> (n - 1 - k)) & 1) << k
    return F.rank_up[u] * len(F.dns) + F.rank_dn[d]


def run_free_only(name: str, m, vals, sec, repeat: int) -> dict:
    F = MatrixFreeHamiltonian(m, vals, sec, threads=1)
    x = np.random.default_rng(0).standard_normal(F.shape[0])
    p = plan(m, sec)
    out = {"case": name, "model": m.name, "L": m.lattice.L, "dimension": int(F.shape[0]),
           "nonzeros_estimated": p.nonzeros, "stored_matrix_bytes_estimated": p.matrix_bytes,
           "matrix_free_bytes": F.memory_bytes, "vector_bytes": int(x.nbytes), "words": F.n_words}
    F @ x  # compile
    for threads in (1, 2):
        F.threads = threads
        t = best_of(lambda: F @ x, repeat)
        out[f"free_seconds_{threads}thread"] = round(t, 3)
        out[f"free_ns_per_nonzero_{threads}thread"] = round(t / p.nonzeros * 1e9, 2)
    return out


def run(name: str, repeat: int, lanczos: bool = False) -> dict:
    model_name, L, vals, N = CASES[name]
    m = build_model(model_name, L, "periodic")
    sec = m.sector(N, 0)
    if plan(m, sec).dimension > STORED_LIMIT:
        return run_free_only(name, m, vals, sec, min(repeat, 2))
    space = make_space(m, sec)
    H = operator_matrix(space, m.numeric_terms(vals))
    F = MatrixFreeHamiltonian(m, vals, sec, threads=1)
    perm = quspin_to_free(space, F)
    x = np.random.default_rng(0).standard_normal(H.shape[0])
    x_free = np.empty_like(x)
    x_free[perm] = x
    y_free = F @ x_free  # also compiles the kernel (cached on disk afterwards)
    error = float(np.max(np.abs(y_free[perm] - H @ x)))
    csr = best_of(lambda: H @ x, repeat)
    out = {"case": name, "model": model_name, "L": L, "dimension": int(H.shape[0]),
           "nonzeros": int(H.nnz), "max_abs_difference": error, "csr_seconds": round(csr, 4),
           "csr_ns_per_nonzero": round(csr / H.nnz * 1e9, 2),
           "csr_bytes": int(H.data.nbytes + H.indices.nbytes + H.indptr.nbytes),
           "matrix_free_bytes": F.memory_bytes, "words": F.n_words}
    for threads in (1, 2):
        F.threads = threads
        sec_free = best_of(lambda: F @ x_free, repeat)
        out[f"free_seconds_{threads}thread"] = round(sec_free, 4)
        out[f"ratio_free_over_csr_{threads}thread"] = round(sec_free / csr, 2)
    if lanczos:
        t = time.perf_counter()
        stored = lowest(H, 1).energies[0]
        out["stored_arpack_seconds"] = round(time.perf_counter() - t, 2)
        F.threads = 2
        t = time.perf_counter()
        free = lanczos_ground_energy(F)
        out["free_lanczos_seconds_2thread"] = round(time.perf_counter() - t, 2)
        out["free_lanczos_iterations"] = free["iterations"]
        out["energy_difference_lanczos"] = abs(free["energy"] - stored)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", action="append", choices=sorted(CASES), help="cases (default: hubbard10)")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--lanczos", action="store_true",
                   help="also time a ground state: stored ARPACK vs matrix-free plain Lanczos")
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args()
    info = machine()
    results = [run(c, args.repeat, args.lanczos) for c in args.case or ["hubbard10"]]
    emit({"benchmark": "matrix-free matvec vs stored CSR matvec", "machine": info, "results": results},
         args.out)


if __name__ == "__main__":
    main()
