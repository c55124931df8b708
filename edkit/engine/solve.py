"""Solve one sector: the single entry point from a model, values and a sector to its lowest levels.

Nothing is decided here. :func:`run` asks the planner (:func:`edkit.engine.planning.choose`), says
on stderr what it announced (long or surprising work, before it starts), and runs the backend it
chose (:mod:`edkit.engine.backends`); :func:`solve_sector` builds the request from plain arguments.
"""

from __future__ import annotations

from collections.abc import Mapping

from edkit.core.model import Model, Sector, SectorError
from edkit.engine.backends.base import Request, where
from edkit.engine.backends.matrix_free import MatrixFreeEigen, MatrixFreeSpace  # noqa: F401  (re-exported)
from edkit.engine.planning import (  # noqa: F401  (re-exported)
    MATRIX_FREE_DIMENSION,
    METHODS,
    Choice,
    check_method,
    choose,
)
from edkit.engine.progress import PROGRESS_DIMENSION, stderr_progress
from edkit.engine.solver import Eigen
from edkit.models import build_model


def get_model(model: str | Model, L: int | None = None, bc: str = "open") -> Model:
    """A model object from a name (built at ``L``, ``bc``) or the model itself."""
    if isinstance(model, Model):
        return model
    return build_model(model, L, bc)  # fixed-size models (hamo) accept L=None


def run(model: Model, values: Mapping[str, float], sector: Sector, request: Request) -> tuple[Eigen, object]:
    """Plan ``request``, announce what the plan says to announce, and run the chosen backend.

    ``values`` are resolved parameter values. Returns the backend's ``(Eigen, space)``.

    Raises
    ------
    TooLargeError, UnsupportedRequestError
        When the planner refuses (before anything is built), with the numbers and each reason.
    """
    choice: Choice = choose(model, sector, request).check()
    est = choice.estimate
    if choice.notice is not None:
        stderr_progress(choice.notice)
    elif est is not None and est.dimension >= PROGRESS_DIMENSION:
        stderr_progress(f"{where(model, sector)}: {choice.explain()}")
    request = request.replace(options={**dict(request.options), "estimate": est})
    return choice.backend.solve(model, values, sector, request)


def solve_sector(model: Model, values: Mapping[str, object] | None, N: int,
                 Sz: float | None = None, nev: int = 1, vectors: bool = False,
                 seed: int = 0, extra: Mapping[str, float] | None = None,
                 method: str = "auto") -> tuple[Eigen, object]:
    r"""Lowest ``nev`` levels of ``model`` in sector ``(N, Sz)``; also returns the sector space.

    The planner (:mod:`edkit.engine.planning`) chooses the backend: the stored QuSpin matrix (dense
    up to 2000 states or for ``nev`` close to the dimension, else ARPACK), the **matrix-free**
    kernel (:mod:`edkit.engine.backends.matrix_free`, models without occupation constraints: the
    ground energy by three-vector Lanczos, the ground state by two-pass Lanczos, up to
    :data:`edkit.engine.backends.matrix_free.MAX_MATRIX_FREE_LEVELS` levels by deflation with
    degenerate multiplets complete), or the numeric space the model declares (the two-wire product
    space). On the matrix-free path ``method`` is ``"matrix-free"``, the result is a
    :class:`~edkit.engine.backends.matrix_free.MatrixFreeEigen` (``residuals``
    :math:`\|Hx - Ex\|`; more than ``nev`` levels when the ``nev``-th level's partners complete its
    multiplet; ``degeneracies`` empty for ``nev=1``: the multiplicity is not determined), and the
    space is a :class:`MatrixFreeSpace` (dimension and the product basis of the vectors).

    ``method``: ``"auto"`` (default) lets the planner choose: sectors of at least
    :data:`MATRIX_FREE_DIMENSION` states go to the fastest backend (matrix-free for up to 10 levels),
    as do those whose stored matrix does not fit; ``"stored"`` always stores the matrix;
    ``"matrix-free"`` always goes matrix-free; any other registered backend name
    (``"two-wire-product"``, ``"tenpy"``) asks for that backend. A request the chosen backend cannot
    do is refused, not redirected.

    Raises
    ------
    InputError
        ``nev`` below 1 or not an integer, or an unknown ``method`` (both ``ValueError``).
    SectorError, ParameterError
        Bad sector or parameter values.
    TooLargeError, UnsupportedRequestError
        Before any large allocation, with the estimate and each backend's reason (also when only
        the matrix-free path fits but more than its 10 levels were asked for, or its vectors do
        not fit, or when ``nev`` asks for a dense diagonalization that does not fit).
    """
    check_method(method)
    request = Request(nev=nev, vectors=vectors, method=method, seed=seed)
    vals = model.resolve(values)  # validates names and numbers first
    sector = model.sector(N, Sz, **dict(extra or {}))
    return run(model, vals, sector, request)


def ground_energy(model: Model, values: Mapping[str, object] | None, N: int,
                  Sz: float | None = None, extra: Mapping[str, float] | None = None,
                  symmetries: object = None, method: str = "auto") -> float | None:
    """Ground-state energy in a sector, or ``None`` if the sector has no states.

    With ``symmetries``, the minimum over every block of the symmetries that hold in this sector
    (the ``blocks`` backend). Without, the backend the planner chooses for ``method``.
    """
    try:
        if symmetries is not None:
            from edkit.engine.blocks import block_spectrum, select_symmetries

            vals = model.resolve(values)
            sector = model.sector(N, Sz, **dict(extra or {}))
            sel = select_symmetries(model, vals, sector, symmetries, per_sector=True)
            res = block_spectrum(model, vals, sector, sel, nev=1)
            return res["energies"][0] if res["energies"] else None
        eig, _ = solve_sector(model, values, N, Sz, 1, extra=extra, method=method)
    except SectorError:
        return None
    return float(eig.energies[0])


__all__ = ["MATRIX_FREE_DIMENSION", "METHODS", "MatrixFreeEigen", "MatrixFreeSpace", "get_model",
           "ground_energy", "run", "solve_sector"]
