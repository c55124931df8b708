"""Test-local models written directly from their definition (not from ``edkit.models``)."""

import sympy

from edkit.core.lattice import chain
from edkit.core.model import Model, Term
from edkit.core.modes import SPINS, Mode
from edkit.core.params import Parameter


def flux_ring(L: int) -> Model:
    """Spinful ring with hopping ``-t e^{i phi} c+_{j+1} c_j + h.c.``.

    Its Hamiltonian is complex for ``phi != 0``, so ``k`` and ``-k`` have different spectra (the sign
    of K is tested); single-particle energies ``-2t cos(K - phi)``.
    """
    lat = chain(L, "periodic", "c")
    t, phi = sympy.Symbol("t", real=True), sympy.Symbol("phi", real=True)
    terms = []
    for (_, i), (_, j) in lat.chain_bonds("c"):
        for s in SPINS:
            forward = ((Mode("c", j, s), True), (Mode("c", i, s), False))  # c+_{i+1} c_i
            terms.append(Term(-t * sympy.exp(sympy.I * phi), forward))
            backward = tuple((m, not d) for m, d in reversed(forward))
            terms.append(Term(-t * sympy.exp(-sympy.I * phi), backward))
    params = {"t": Parameter("t", 1), "phi": Parameter("phi", 0)}
    return Model("flux-ring", lat, True, terms, params).check()
