"""mappings: the symbolic layer of edkit (fermion algebra, transformations, verifications).

Reads the neutral model core :mod:`edkit.core`; never imports QuSpin.
"""

from mappings.algebra import (
    FermionOperator,
    anticommutator,
    c,
    cdag,
    commutator,
    from_model,
    identity,
    number,
)
from mappings.transforms import apply_map, check_canonical, check_involution, particle_hole_map

__all__ = [
    "FermionOperator", "anticommutator", "apply_map", "c", "cdag", "check_canonical",
    "check_involution", "commutator", "from_model", "identity", "number", "particle_hole_map",
]
