"""Lattices: a chain of sites, or layers of chains joined by rungs, open or periodic.

Conventions
-----------
- ``L`` counts sites per layer (rungs of a bilayer), numbered ``0 .. L-1``.
- ``bc="open"``: bonds ``(i, i+1)`` for ``i < L-1``. ``bc="periodic"``: also the bond ``(L-1, 0)``;
  a periodic ring needs ``L >= 3`` (``L = 2`` would double the bond ``0-1``, and is refused).
- The periodic bond is written with the same fermion operators as every other bond,
  :math:`c^\\dagger_{L-1} c_0`; no Jordan-Wigner boundary sign is put in by hand (the backend's
  fermion basis takes care of it for every particle number).
- Sublattice parity of site ``i`` is :math:`(-1)^i`; a ring is bipartite only for even ``L``.
"""

from __future__ import annotations

from dataclasses import dataclass

from edkit.core.errors import EdkitError

Orbital = tuple[str, int]
Bond = tuple[Orbital, Orbital]


class LatticeError(EdkitError, ValueError):
    """A lattice that cannot be built (bad size or boundary condition)."""


@dataclass(frozen=True)
class Lattice:
    """Chains (``layers``) of ``L`` sites, nearest-neighbour bonds in ``chain_layers``.

    Parameters
    ----------
    L
        Sites per layer (rungs).
    bc
        ``"open"`` or ``"periodic"``.
    layers
        Layer names, in the documented orbital order (layer-major).
    chain_layers
        Layers that have nearest-neighbour bonds along the chain (the others are isolated
        sites, like the pairing sites ``p`` of the Kivelson bilayer).
    rungs
        Pairs of layers joined site by site (``(a, i)-(b, i)``).
    """

    L: int
    bc: str = "open"
    layers: tuple[str, ...] = ("c",)
    chain_layers: tuple[str, ...] = ("c",)
    rungs: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.L, int) or isinstance(self.L, bool) or self.L < 1:
            raise LatticeError(f"L must be a positive integer, got {self.L!r}")
        if self.bc not in ("open", "periodic"):
            raise LatticeError(f"bc must be 'open' or 'periodic', got {self.bc!r}")
        if self.bc == "periodic" and self.L < 3 and self.chain_layers:
            raise LatticeError(
                f"a periodic ring needs L >= 3; with L={self.L} the bond 0-1 would be counted "
                "twice (use bc='open' for a single bond)"
            )
        unknown = {x for pair in self.rungs for x in pair} | set(self.chain_layers)
        unknown -= set(self.layers)
        if unknown:
            raise LatticeError(f"bonds refer to unknown layers {sorted(unknown)}")

    @property
    def orbitals(self) -> tuple[Orbital, ...]:
        """All ``(layer, site)`` in the documented order (layer-major)."""
        return tuple((layer, i) for layer in self.layers for i in range(self.L))

    def chain_bonds(self, layer: str) -> tuple[Bond, ...]:
        """Nearest-neighbour bonds ``((layer, i), (layer, j))`` along one layer."""
        if layer not in self.chain_layers:
            return ()
        pairs = [(i, i + 1) for i in range(self.L - 1)]
        if self.bc == "periodic":
            pairs.append((self.L - 1, 0))
        return tuple(((layer, i), (layer, j)) for i, j in pairs)

    def rung_bonds(self) -> tuple[Bond, ...]:
        """Bonds ``((a, i), (b, i))`` for every rung pair of layers and every site."""
        return tuple(((a, i), (b, i)) for a, b in self.rungs for i in range(self.L))

    def bonds(self) -> tuple[Bond, ...]:
        """All bonds: chain bonds of every layer, then rungs."""
        out: list[Bond] = []
        for layer in self.layers:
            out.extend(self.chain_bonds(layer))
        out.extend(self.rung_bonds())
        return tuple(out)

    def sublattice(self, site: int) -> int:
        """Sublattice parity :math:`(-1)^{site}`."""
        return 1 if site % 2 == 0 else -1


def chain(L: int, bc: str = "open", layer: str = "c") -> Lattice:
    """A single chain of ``L`` sites."""
    return Lattice(L=L, bc=bc, layers=(layer,), chain_layers=(layer,))


def bilayer(L: int, bc: str = "open", legs: tuple[str, str] = ("p", "m"),
            chain_legs: tuple[str, ...] = ("m",)) -> Lattice:
    """Two legs of ``L`` sites joined by ``L`` rungs; only ``chain_legs`` have bonds along."""
    return Lattice(L=L, bc=bc, layers=legs, chain_layers=chain_legs, rungs=(legs,))


def bipartite_signs(orbitals: tuple[Orbital, ...], bonds: tuple[Bond, ...]) -> dict[Orbital, int]:
    """Two-colour the bond graph: a sign ``+-1`` per orbital, opposite across every bond.

    The first orbital of each connected component gets ``+1`` (for the bilayer: ``(p, 0)``, so
    that ``sign(p, i) = (-1)^i`` and ``sign(m, i) = (-1)^(i+1)``).

    Raises
    ------
    LatticeError
        If the graph is not bipartite; the message names a frustrated bond.
    """
    # colour along short bonds first, so that a frustrated ring reports its closing bond
    short = [bd for bd in bonds if abs(bd[0][1] - bd[1][1]) <= 1]
    long = [bd for bd in bonds if abs(bd[0][1] - bd[1][1]) > 1]
    signs: dict[Orbital, int] = {}
    for group in (short, long):
        neighbours: dict[Orbital, list[Orbital]] = {o: [] for o in orbitals}
        for a, b in group:
            neighbours[a].append(b)
            neighbours[b].append(a)
        for start in orbitals:
            if start in signs and not neighbours[start]:
                continue
            if start not in signs:
                signs[start] = 1
            stack = [start]
            while stack:
                a = stack.pop()
                for b in neighbours[a]:
                    if b not in signs:
                        signs[b] = -signs[a]
                        stack.append(b)
    for a, b in bonds:
        if signs[a] == signs[b]:
            raise LatticeError(
                "the lattice is not bipartite: bond "
                f"{a[0]}{a[1]}-{b[0]}{b[1]} joins two sites of the same sublattice "
                "(an odd periodic ring?); a staggered particle-hole map needs a bipartite lattice"
            )
    return signs
