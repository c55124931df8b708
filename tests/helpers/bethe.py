"""Independent test oracle: Lieb-Wu Bethe-ansatz ground-state energies of the Hubbard ring.

Model (periodic ring of L sites, true fermionic boundary condition c_L = c_0)::

    H = -t sum_{j,s} (c+_{j,s} c_{j+1,s} + h.c.) + U sum_j n_{j,up} n_{j,dn}

Bethe-ansatz equations (Lieb & Wu, PRL 20, 1445 (1968); Essler, Frahm, Goehmann, Kluemper,
Korepin, "The One-Dimensional Hubbard Model", CUP 2005, ch. 6, eqs. for the Lieb-Wu
equations in logarithmic form).  With N = n_up + n_dn electrons, M = n_dn <= n_up
down spins, u = U / (4 t) and theta(x) = 2 arctan(x)::

    L k_j = 2 pi I_j - sum_{b=1}^{M} theta((sin k_j - lam_b) / u),          j = 1..N
    sum_{j=1}^{N} theta((lam_a - sin k_j) / u)
          = 2 pi J_a + sum_{b=1}^{M} theta((lam_a - lam_b) / (2 u)),         a = 1..M

    E = -2 t sum_j cos k_j        (no chemical potential, no constant shift)

Internally the spin rapidities are rescaled, x_a = lam_a / u.

Quantum numbers (parities follow from taking the logarithm of the algebraic equations,
each factor (y + i)/(y - i) contributing a sign -1):

* I_j is an integer if M is even and a half-odd integer if M is odd;
* J_a is an integer if N - M + 1 is even (N - M odd) and half-odd if N - M + 1 is odd.

Ground state of the highest-weight (S = S_z) sector with M down spins: I_j are N consecutive
allowed values and J_a are M consecutive allowed values, each set placed as symmetrically
around 0 as its parity allows.  The I set can be symmetric iff N + M is odd, the J set iff N
is even.  If a set cannot be symmetric (open shell, +/- momentum degeneracy) both windows
shifted by +1/2 and -1/2 are tried (for N, M both odd the lowest state has the I and J windows
shifted in opposite directions) and the lowest converged energy is kept.  For N = L all L
inequivalent values of I_j (mod L) are occupied, so the window choice is immaterial.
Examples: L=6,N=6,M=3: I = -5/2..5/2, J = -1,0,1;  L=8,N=8,M=4: I = -3..4 (== all mod 8),
J = -3/2..3/2;  L=8,N=6,M=3: I = -5/2..5/2, J = -1,0,1.

Fixed (n_up, n_dn) sector: every SU(2) multiplet with S >= S_z = (n_up - n_dn)/2 has a state
in this sector, so the sector ground state is min over M' = 0..n_dn of the highest-weight
energies with (N - M', M') (e.g. L=6, n_up=n_dn=2 has a triplet ground state, M'=1).
Filling N > L (even L only): particle-hole transformation c_j -> (-1)^j c+_j gives
E(n_up, n_dn) = E(L - n_up, L - n_dn) + U (N - L).
All of this is validated against brute-force exact diagonalization in
tests/test_helpers_bethe.py.

Numerical solution: at large U the equations decouple into the XXX-like equations
N theta(x_a) = 2 pi J_a + sum_b theta((x_a - x_b)/2) (Lieb-Wu strong-coupling limit) and
k_j = (2 pi I_j - sum_b theta(-x_b)) / L; this is the starting point at u_start = max(U/4t, 10),
then the solution is continued in U down to the target with scipy.optimize.root (hybr),
using the previous solution as initial guess (adaptive step in log u).
Reliable for U/t >~ 0.01; U = 0 returns the free-fermion value.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import root


def _theta(x):
    return 2.0 * np.arctan(x)


def _windows(n: int, half_odd: bool) -> list[np.ndarray]:
    """n consecutive values of given parity, as symmetric around 0 as possible.

    Returns one window if a symmetric one exists, else the two windows shifted by -1/2, +1/2.
    """
    if n == 0:
        return [np.zeros(0)]
    start = -(n - 1) / 2.0
    is_half = abs(start - np.round(start)) > 1e-9
    if is_half != half_odd:
        return [start - 0.5 + np.arange(n, dtype=float), start + 0.5 + np.arange(n, dtype=float)]
    return [start + np.arange(n, dtype=float)]


def quantum_number_candidates(L: int, n_up: int, n_dn: int):
    """Candidate ground-state Bethe quantum numbers [(I_j, J_a), ...] for n_dn <= n_up."""
    n = n_up + n_dn
    m = n_dn
    i_sets = _windows(n, half_odd=(m % 2 == 1))
    j_sets = _windows(m, half_odd=((n - m + 1) % 2 == 1))
    return [(i, j) for i in i_sets for j in j_sets]


def quantum_numbers(L: int, n_up: int, n_dn: int) -> tuple[np.ndarray, np.ndarray]:
    """First candidate (the unique one for closed shells) of quantum_number_candidates."""
    return quantum_number_candidates(L, n_up, n_dn)[0]


def _residual(z, L, i_vals, j_vals, u):
    n = len(i_vals)
    k = z[:n]
    x = z[n:]
    s = np.sin(k) / u
    f = L * k - 2 * np.pi * i_vals + _theta(s[:, None] - x[None, :]).sum(axis=1)
    g = (
        _theta(x[:, None] - s[None, :]).sum(axis=1)
        - 2 * np.pi * j_vals
        - _theta((x[:, None] - x[None, :]) / 2.0).sum(axis=1)
    )
    return np.concatenate([f, g])


def _jacobian(z, L, i_vals, j_vals, u):
    n = len(i_vals)
    m = len(j_vals)
    k = z[:n]
    x = z[n:]
    s = np.sin(k) / u
    ds = np.cos(k) / u
    jac = np.zeros((n + m, n + m))
    a = s[:, None] - x[None, :]  # (n, m)
    w = 2.0 / (1.0 + a * a)
    jac[:n, :n] = np.diag(L + w.sum(axis=1) * ds)
    jac[:n, n:] = -w
    # g_a = sum_j theta(x_a - s_j) - sum_b theta((x_a - x_b)/2)
    wt = w.T  # (m, n): theta'(x_a - s_j)
    jac[n:, :n] = -wt * ds[None, :]
    d = (x[:, None] - x[None, :]) / 2.0
    v = 1.0 / (1.0 + d * d)  # d/dx_a theta(d) = 2*(1/2)/(1+d^2)
    jxx = -v.copy()
    np.fill_diagonal(jxx, 0.0)
    jxx = -jxx  # derivative wrt x_b (b != a) of -theta((x_a-x_b)/2) is +v
    diag = wt.sum(axis=1) - (v.sum(axis=1) - 1.0)
    np.fill_diagonal(jxx, diag)
    jac[n:, n:] = jxx
    return jac


def _solve(z0, L, i_vals, j_vals, u):
    sol = root(_residual, z0, args=(L, i_vals, j_vals, u), jac=_jacobian, method="hybr",
               options={"xtol": 1e-14})
    return sol.x, np.max(np.abs(_residual(sol.x, L, i_vals, j_vals, u)), initial=0.0)


def _strong_coupling_guess(L, i_vals, j_vals):
    n = len(i_vals)
    m = len(j_vals)
    if m == 0:
        return 2 * np.pi * i_vals / L
    # XXX-like equations for x: n theta(x_a) = 2 pi J_a + sum_b theta((x_a - x_b)/2)
    x0 = np.tan(np.pi * j_vals / n)

    def res(x):
        return (n * _theta(x) - 2 * np.pi * j_vals
                - _theta((x[:, None] - x[None, :]) / 2.0).sum(axis=1))

    x = root(res, x0, method="hybr", options={"xtol": 1e-14}).x
    k = (2 * np.pi * i_vals - _theta(-x).sum()) / L
    return np.concatenate([k, x])


def _continue_in_u(L, i_vals, j_vals, u_target, u_start, tol):
    n = len(i_vals)
    u = max(u_target, u_start)
    z = _strong_coupling_guess(L, i_vals, j_vals)
    z, resid = _solve(z, L, i_vals, j_vals, u)
    dlog = 0.05
    with np.errstate(over="ignore"):
        while u > u_target and dlog > 1e-6:
            u_new = max(u_target, u * np.exp(-dlog))
            z_new, r_new = _solve(z, L, i_vals, j_vals, u_new)
            if r_new < tol and np.all(np.abs(z_new[:n] - z[:n]) < 0.5):
                z, resid, u = z_new, r_new, u_new
                dlog = min(2 * dlog, 0.2)
            else:
                dlog /= 2
    if u > u_target:
        resid = np.inf
    return z[:n], z[n:] * u_target, resid


def lieb_wu_solution(L: int, n_up: int, n_dn: int, U: float, t: float = 1.0,
                     u_start: float = 10.0, tol: float = 1e-12):
    """Lowest highest-weight Bethe state with N = n_up + n_dn <= L, M = min(n_up, n_dn).

    Returns (k, lam, max_residual); requires U > 0.  Continuation in log(u) from u_start
    (or from u = U/4t if larger) with adaptive steps; all candidate quantum-number sets are
    solved and the one with the lowest energy (among converged ones) is returned.
    """
    if n_dn > n_up:
        n_up, n_dn = n_dn, n_up
    if U <= 0:
        raise ValueError("lieb_wu_solution requires U > 0; use free_fermion_ring_energy")
    if n_up + n_dn > L:
        raise ValueError("Bethe equations used for N <= L only")
    u_target = U / (4.0 * t)
    best = None
    for i_vals, j_vals in quantum_number_candidates(L, n_up, n_dn):
        k, lam, resid = _continue_in_u(L, i_vals, j_vals, u_target, u_start, tol)
        e = -np.cos(k).sum()
        if best is None or (resid < 1e-10 and (best[2] >= 1e-10 or e < best[3])):
            best = (k, lam, resid, e)
    return best[0], best[1], best[2]


def lieb_wu_highest_weight_energy(L: int, n_up: int, n_dn: int, U: float,
                                  t: float = 1.0) -> float:
    """Lowest energy with S = S_z = |n_up - n_dn|/2 (highest weight), N <= L, U > 0."""
    k, _, resid = lieb_wu_solution(L, n_up, n_dn, U, t)
    if not resid < 1e-10:
        raise RuntimeError(f"Lieb-Wu solver did not converge (residual {resid:g})")
    return float(-2.0 * t * np.cos(k).sum())


def lieb_wu_ground_state(L: int, n_up: int, n_dn: int, U: float, t: float = 1.0) -> float:
    """Ground-state energy in the fixed (n_up, n_dn) sector of the Hubbard ring (U >= 0).

    min over M' <= min(n_up, n_dn) of the highest-weight Bethe energies (the sector contains
    all multiplets with S >= S_z); N > L is mapped to N <= L by particle-hole symmetry.
    """
    if U < 0:
        raise ValueError("only repulsive U >= 0 is supported")
    if U == 0:
        return free_fermion_ring_energy(L, n_up, n_dn, t)
    n = n_up + n_dn
    if n > L:
        if L % 2:
            raise ValueError("particle-hole mapping for N > L requires even L")
        return lieb_wu_ground_state(L, L - n_up, L - n_dn, U, t) + U * (n - L)
    m = min(n_up, n_dn)
    return min(lieb_wu_highest_weight_energy(L, n - mp, mp, U, t) for mp in range(m + 1))


def free_fermion_ring_energy(L: int, n_up: int, n_dn: int, t: float = 1.0) -> float:
    """U = 0 ground state: fill lowest levels -2 t cos(2 pi m / L) for each spin."""
    eps = np.sort(-2.0 * t * np.cos(2 * np.pi * np.arange(L) / L))
    return float(eps[:n_up].sum() + eps[:n_dn].sum())
