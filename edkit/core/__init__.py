"""The neutral model core: modes, lattices, parameters, terms and models (no QuSpin here)."""

from edkit.core.errors import EdkitError, InputError
from edkit.core.lattice import Lattice, LatticeError, bilayer, bipartite_signs, chain
from edkit.core.model import Capabilities, Constraint, Model, ModelError, Sector, SectorError, Term
from edkit.core.modes import DN, SPINLESS, UP, Mode
from edkit.core.params import Parameter, ParameterError, parse_number

__all__ = [
    "DN", "SPINLESS", "UP", "Capabilities", "Constraint", "EdkitError", "InputError", "Lattice",
    "LatticeError", "Mode", "Model", "ModelError", "Parameter", "ParameterError", "Sector",
    "SectorError", "Term", "bilayer", "bipartite_signs", "chain", "parse_number",
]
