"""The neutral model core: conventions, validation, bad input."""

import pytest
import sympy

from edkit.core import Lattice, LatticeError, Mode, Model, ModelError, Parameter, ParameterError, Term
from edkit.core.lattice import bilayer, bipartite_signs, chain
from edkit.core.model import SectorError
from edkit.core.params import parse_number
from edkit.models import build_model, kbp_bilayer


def test_mode_order_is_spin_major_then_layer_major():
    m = kbp_bilayer(2)
    assert m.orbitals == (("p", 0), ("p", 1), ("m", 0), ("m", 1))
    assert m.modes[:4] == tuple(Mode(layer, i, "up") for layer, i in m.orbitals)
    assert m.modes[4:] == tuple(Mode(layer, i, "dn") for layer, i in m.orbitals)


def test_lattice_bonds_and_boundaries():
    bonds = chain(4, "open").chain_bonds("c")
    assert bonds == ((("c", 0), ("c", 1)), (("c", 1), ("c", 2)), (("c", 2), ("c", 3)))
    assert (("c", 3), ("c", 0)) in chain(4, "periodic").chain_bonds("c")
    assert len(bilayer(3, "periodic").rung_bonds()) == 3
    with pytest.raises(LatticeError, match="L >= 3"):
        chain(2, "periodic")
    with pytest.raises(LatticeError, match="positive"):
        chain(0)
    with pytest.raises(LatticeError, match="bc"):
        Lattice(3, "twisted")


def test_sublattice_signs_follow_bonds():
    lat = bilayer(4, "periodic")
    s = bipartite_signs(lat.orbitals, lat.bonds())
    for i in range(4):
        assert s[("p", i)] == (-1) ** i and s[("m", i)] == (-1) ** (i + 1)
    lat5 = bilayer(5, "periodic")
    with pytest.raises(LatticeError, match="m4-m0"):
        bipartite_signs(lat5.orbitals, lat5.bonds())


def test_non_hermitian_model_lists_missing_conjugates():
    lat = chain(3)
    t = sympy.Symbol("t", real=True)
    a, b = Mode("c", 0, "up"), Mode("c", 1, "up")
    model = Model("broken", lat, True, [Term(-t, ((a, True), (b, False)), "half hop")],
                  {"t": Parameter("t", 1)})
    with pytest.raises(ModelError, match="not Hermitian.*half hop"):
        model.check()


def test_unknown_modes_and_symbols_are_refused():
    lat = chain(2)
    t, g = sympy.Symbol("t", real=True), sympy.Symbol("g", real=True)
    bad_mode = Mode("z", 0, "up")
    with pytest.raises(ModelError, match="not in the model"):
        Model("m", lat, True, [Term(t, ((bad_mode, True), (bad_mode, False)))],
              {"t": Parameter("t", 1)}).check()
    a = Mode("c", 0, "up")
    with pytest.raises(ModelError, match="not parameters"):
        Model("m", lat, True, [Term(g, ((a, True), (a, False)))], {"t": Parameter("t", 1)}).check()


def test_parameter_resolution_and_refusals():
    m = kbp_bilayer(2)
    assert m.resolve({"U": 6})["mu_p"] == -3.0
    with pytest.raises(ParameterError, match="unknown parameter.*V"):
        m.resolve({"V": 1})
    for bad in ("nan", "inf", "1e999", "__import__('os')", "U*2", ""):
        with pytest.raises(ParameterError):
            m.resolve({"U": bad})
    with pytest.raises(ParameterError):
        m.resolve({"U": float("nan")})
    assert parse_number("1/4") == 0.25 and parse_number("-2e-1") == -0.2


def test_sector_errors_say_why():
    m = build_model("kbp", 2)
    assert (m.sector(4, 0).n_up, m.sector(4, 0).n_dn) == (2, 2)
    with pytest.raises(SectorError, match="outside"):
        m.sector(9, 0.5)
    with pytest.raises(SectorError, match="parity"):
        m.sector(4, 0.5)
    with pytest.raises(SectorError, match="impossible"):
        m.sector(2, 2)
    k = build_model("kondo", 3)
    assert k.sector(3, 0).n_up + k.sector(3, 0).n_dn == 6  # localized spins counted by the backend


def test_factories_are_hermitian_on_all_sizes():
    for name in ("hubbard", "kbp", "kbp-eff", "anderson", "kondo"):
        for L, bc in ((1, "open"), (3, "open"), (4, "periodic"), (5, "periodic")):
            if name == "hubbard" and L == 1:
                continue
            model = build_model(name, L, bc)
            assert model.non_hermitian_terms() == []
