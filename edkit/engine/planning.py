"""The planner: every request is planned, chosen and explained before anything large is built.

:func:`choose` asks every registered backend (:mod:`edkit.engine.backends`) whether it supports the
request (and why not), estimates memory and time of those that do, refuses what does not fit in
memory (:func:`edkit.engine.memory.memory_limit`) or in time (:func:`edkit.engine.memory.time_limit`),
and chooses:

1. a backend named by ``method`` (refused, with its reason, if it cannot);
2. otherwise the backend that implements the numeric space the model declares
   (``model.capabilities.space``, e.g. the two-wire product space);
3. otherwise, below :data:`MATRIX_FREE_DIMENSION` states, the stored matrix (it also resolves
   degeneracies; small sectors take well under a second either way);
4. otherwise the fastest estimate.

The device of a request (:mod:`edkit.engine.devices`: ``request.options["device"]``, else the one
set by :func:`edkit.engine.devices.use`) comes first: ``"gpu"`` takes the ``gpu`` backend for what
it can do (the ground energy; other requests go to the CPU choice with a notice) and refuses, with
its reason, what it cannot (no GPU, not enough device memory); ``"cpu"`` and ``"auto"`` below
:data:`edkit.engine.devices.GPU_DIMENSION` states leave the ``gpu`` backend out (it says so itself).

The :class:`Choice` says why in words that are true for the numbers at hand ("faster than building
the 410 MiB stored matrix" is not "does not fit"), and carries a ``notice`` for work announced on
stderr before it starts (more levels than the matrix-free path gives, which moves a sector from the
matrix-free kernel to a big stored build, or any run estimated at :data:`NOTICE_SECONDS` or more).
The matrix-free backend gives the ground energy, the ground state and up to
:data:`edkit.engine.backends.matrix_free.MAX_MATRIX_FREE_LEVELS` levels, so ``nev = 2..10`` on a
sector too large or too slow to store goes matrix-free like the ground energy. :func:`plan` is the sizes and
the choice for ``edkit plan``; :func:`check_fits` refuses a stored build that does not fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from edkit.core.errors import InputError
from edkit.core.model import Model, Sector
from edkit.core.units import approx_seconds, format_bytes, format_count, format_seconds
from edkit.engine.backends import AUTO, Estimate, Request, UnknownBackendError, backends, get, names
from edkit.engine.backends.base import Backend, where
from edkit.engine.backends.matrix_free import (  # noqa: F401  (re-exported)
    MATRIX_FREE_STEPS,
    MAX_MATRIX_FREE_LEVELS,
    matrix_free_bytes,
    matrix_free_seconds,
)
from edkit.engine.backends.stored import (  # noqa: F401  (re-exported)
    BUILD_OVERHEAD,
    BYTES_PER_NONZERO,
    stored_estimate,
)
from edkit.engine.devices import request_device
from edkit.engine.memory import (  # noqa: F401  (re-exported)
    TooLargeError,
    available_memory,
    memory_limit,
    time_limit,
)
from edkit.engine.sizes import SectorSize, count_states, sector_size  # noqa: F401  (re-exported)
from edkit.engine.solver import DENSE_LIMIT

#: Sectors at least this large go to the fastest backend (usually the matrix-free kernel) even when
#: the stored matrix fits; below, the stored matrix is used (it also gives block labels, and either
#: takes well under a second). Measured: Hubbard L=12, 853,776 states, 1.5 s matrix-free
#: against 7.6 s for ARPACK on the stored matrix plus its build (``benchmarks/results/matvec.json``).
MATRIX_FREE_DIMENSION = 100_000
#: Runs estimated to take at least this long are announced on stderr before they start.
NOTICE_SECONDS = 60.0
#: ``method`` values of the command line (any registered backend name is accepted by the API).
METHODS = (AUTO, "stored", "matrix-free")


class UnsupportedRequestError(InputError):
    """No backend can do the request as asked; the message gives each backend's reason."""


@dataclass
class Option:
    """One backend's answer to a request.

    ``reason`` is ``None`` when the backend can do it within the limits; ``limited_by`` says what
    stops it: ``"memory"``, ``"time"``, ``"capacity"`` (it would do the ground energy alone), or
    ``None`` (it does not apply). ``alternative`` is its estimate of the ground energy alone when
    ``limited_by == "capacity"``.
    """

    name: str
    reason: str | None
    estimate: Estimate | None = None
    limited_by: str | None = None
    alternative: Estimate | None = None

    def as_dict(self) -> dict:
        """Plain data (JSON)."""
        return {"backend": self.name, "supported": self.reason is None, "reason": self.reason,
                "limited_by": self.limited_by,
                "estimate": self.estimate.as_dict() if self.estimate is not None else None}


@dataclass
class Choice:
    """The planner's decision for one request: the backend, why, and what every backend said."""

    model: Model = field(repr=False)
    sector: Sector
    request: Request
    backend: Backend | None
    reason: str
    options: list[Option]
    size: SectorSize
    limit: int
    available: int
    notice: str | None = None
    error: type[Exception] | None = None

    @property
    def name(self) -> str | None:
        """Name of the chosen backend (``None`` when refused)."""
        return None if self.backend is None else self.backend.name

    @property
    def estimate(self) -> Estimate | None:
        """The chosen backend's estimate."""
        return next((o.estimate for o in self.options if o.name == self.name), None)

    def explain(self) -> str:
        """``"<backend>: <why>"``, or ``"refused: <why>"``."""
        return f"{self.name}: {self.reason}" if self.backend is not None else f"refused: {self.reason}"

    def check(self) -> Choice:
        """``self``, or raise the refusal (:class:`TooLargeError` or :class:`UnsupportedRequestError`)."""
        if self.backend is None:
            raise (self.error or UnsupportedRequestError)(self.reason)
        return self

    def as_dict(self) -> dict:
        """Plain data (JSON): chosen backend, reason, notice, limits and every backend's answer."""
        return {"backend": self.name, "reason": self.reason, "notice": self.notice,
                "request": {"nev": self.request.nev, "vectors": self.request.vectors,
                            "method": self.request.method,
                            "symmetries": [s.label for s in self.request.symmetries]},
                "bytes_limit": self.limit, "bytes_available": self.available,
                "backends": [o.as_dict() for o in self.options]}


def check_method(method: object) -> str:
    """``method`` if it is ``"auto"`` or a registered backend name.

    Raises
    ------
    UnknownBackendError
        Otherwise (an :class:`InputError`, so a ``ValueError``), listing the choices.
    """
    known = names()
    if not isinstance(method, str) or (method != AUTO and method not in known):
        raise UnknownBackendError(f"method must be one of {', '.join((AUTO, *known))}, got {method!r}")
    return method


def _ask(backend: Backend, model: Model, sector: Sector, request: Request, limit: int,
         seconds: float) -> Option:
    reason = backend.supports(model, sector, request)
    if reason is not None:
        if not request.ground_only:
            ground = request.replace(nev=1, vectors=False)
            if backend.supports(model, sector, ground) is None:
                return Option(backend.name, reason, None, "capacity", backend.estimate(model, sector, ground))
        return Option(backend.name, reason, None, None)
    est = backend.estimate(model, sector, request)
    if est.bytes > limit:
        return Option(backend.name, f"needs ~{format_bytes(est.bytes)} ({est.what}), more than the "
                      f"{format_bytes(limit)} allowed", est, "memory")
    if est.seconds > seconds:
        return Option(backend.name, f"would take {approx_seconds(est.seconds)} ({est.what}, rough), more "
                      f"than the time limit of {format_seconds(seconds)}", est, "time")
    return Option(backend.name, None, est)


def choose(model: Model, sector: Sector, request: Request) -> Choice:
    """Ask every backend about ``request`` and choose one (module docs); nothing is built.

    Returns a :class:`Choice`; a refused request has ``backend=None`` and the reason, raised by
    :meth:`Choice.check`.

    Raises
    ------
    UnknownBackendError
        For a ``method`` that names no registered backend.
    """
    check_method(request.method)
    if request.method == AUTO and request_device(request) == "gpu":
        return _choose_gpu(model, sector, request)
    available = available_memory()
    limit = memory_limit(available)
    seconds = time_limit()
    size = sector_size(model, sector, request.symmetries)
    options = [_ask(b, model, sector, request, limit, seconds) for b in backends()]
    ok = [o for o in options if o.reason is None]
    if request.method != AUTO:
        ok = [o for o in ok if o.name == request.method]

    def made(option: Option, reason: str, notice: str | None = None) -> Choice:
        est = option.estimate
        if notice is None and est is not None and est.seconds >= NOTICE_SECONDS:
            notice = f"{where(model, sector)}: {option.name}: {reason} (rough estimate)"
        return Choice(model, sector, request, get(option.name), reason, options, size, limit, available,
                      notice)

    if not ok:
        return _refusal(model, sector, request, size, options, limit, available, seconds)
    if request.method != AUTO:
        return made(ok[0], f"asked for (method={request.method!r}): {ok[0].estimate.text()}")
    space = model.capabilities.space
    special = [o for o in ok if space is not None and getattr(get(o.name), "space", None) == space]
    if special:
        o = special[0]
        return made(o, f"{model.name} declares the {space} space: {o.estimate.text()} (the stored "
                       f"sector path would build a {format_count(size.built_dimension)}-state basis)")
    by_name = {o.name: o for o in ok}
    if "stored" in by_name and size.sector_dimension < MATRIX_FREE_DIMENSION:
        return made(by_name["stored"], f"{format_count(size.sector_dimension)} states, below the "
                    f"{format_count(MATRIX_FREE_DIMENSION)} from which the fastest backend is used "
                    f"(the stored matrix also gives degeneracies): {by_name['stored'].estimate.text()}")
    best = min(ok, key=lambda o: o.estimate.seconds)
    return _fastest(made, best, options, model, sector, request, size, limit)


def _choose_gpu(model: Model, sector: Sector, request: Request) -> Choice:
    """``device="gpu"`` (:mod:`edkit.engine.devices`): the ``gpu`` backend when it can do the request;
    the CPU choice, with a notice, when only the kind of request is beyond it (levels, vectors,
    blocks); else refused with its reason."""
    gpu = get("gpu")
    reason = gpu.supports(model, sector, request)
    if reason is None:
        return choose(model, sector, request.replace(method="gpu"))
    ground = request.replace(nev=1, vectors=False, manifold=False, symmetries=())
    if gpu.supports(model, sector, ground) is None:
        cpu = choose(model, sector, request.replace(options={**dict(request.options), "device": "cpu"}))
        if cpu.backend is not None:
            cpu.notice = (f"{where(model, sector)}: device='gpu': {reason}; {request.describe()} runs on the "
                          f"CPU ({cpu.explain()})")
        return cpu
    refused = choose(model, sector, request.replace(method="gpu"))
    if refused.backend is None:
        refused.reason = f"{where(model, sector)}: device='gpu': {reason}"
        refused.error = TooLargeError if "memory" in reason else UnsupportedRequestError
    return refused


def _fastest(made, best: Option, options: list[Option], model: Model, sector: Sector, request: Request,
             size: SectorSize, limit: int) -> Choice:
    """The fastest backend, with the comparison that makes it the choice."""
    est = best.estimate
    states = f"{request.describe()} of {format_count(size.sector_dimension)} states"
    stored = next((o for o in options if o.name == "stored"), None)
    if best.name != "stored" and stored is not None:
        if stored.limited_by == "memory":
            return made(best, f"the stored matrix ({format_bytes(stored.estimate.bytes)}) does not fit in "
                              f"{format_bytes(limit)}: {est.text()}")
        if stored.limited_by == "time":
            return made(best, f"the stored matrix would take {approx_seconds(stored.estimate.seconds)}, "
                              f"beyond the time limit: {est.text()}")
        if stored.reason is None and not request.ground_only and best.name == "matrix-free":
            build = stored.estimate.numbers.get("build_seconds", stored.estimate.seconds)
            return made(best, f"{est.what} (~{format_bytes(est.bytes)}, {approx_seconds(est.seconds)}); "
                              f"the stored matrix (~{format_bytes(stored.estimate.bytes)} peak) would take "
                              f"{approx_seconds(build)} to build, {approx_seconds(stored.estimate.seconds)} "
                              f"in all for {request.describe()}")
        if stored.reason is None:
            matrix = stored.estimate.numbers.get("bytes_matrix", stored.estimate.bytes)
            return made(best, f"faster than building the {format_bytes(matrix)} stored matrix ({states}: "
                              f"{approx_seconds(est.seconds)} against "
                              f"{approx_seconds(stored.estimate.seconds)})")
    others = [o for o in options if o.name != best.name and o.limited_by == "capacity"
              and o.alternative is not None]
    if not request.ground_only and others:
        alt = min(others, key=lambda o: o.alternative.seconds)
        build = est.numbers.get("build_seconds")
        cost = (f"~{format_bytes(est.bytes)}, {approx_seconds(build)} to build and "
                f"{approx_seconds(est.seconds - build)} to solve" if build is not None else est.text())
        words = (f"{request.describe()} needs the {'stored matrix' if best.name == 'stored' else best.name}: "
                 f"{cost}; the ground energy alone would take {approx_seconds(alt.alternative.seconds)} "
                 f"{alt.name}")
        return made(best, words, f"{where(model, sector)}: {words}")
    rest = [o for o in options if o.name == "matrix-free" and o.reason is not None and o.name != best.name
            and not request.symmetries]
    tail = f" ({rest[0].name}: {rest[0].reason})" if rest else ""
    return made(best, f"the fastest estimate for {states}: {est.text()}{tail}")


def describe_size(size: SectorSize, est: Estimate | None, available: int, request: Request | None = None
                  ) -> str:
    """``"dimension 4,900 (built 4,900), ~39,200 non-zeros, ~2.1 MiB needed, 19.2 GiB available"``."""
    block = (f" per block of {''.join(size.symmetries)} (sector {format_count(size.sector_dimension)})"
             if size.symmetry_reduction > 1 else "")
    what = f"{est.what}: " if est is not None and request is not None and request.nev > 1 else ""
    needed = f"~{format_bytes(est.bytes)} needed, " if est is not None else ""
    return (f"dimension {format_count(size.dimension)}{block} (built {format_count(size.built_dimension)}), "
            f"~{format_count(size.nonzeros)} non-zeros, {what}{needed}{format_bytes(available)} available")


def _refusal(model: Model, sector: Sector, request: Request, size: SectorSize, options: list[Option],
             limit: int, available: int, seconds: float) -> Choice:
    """A refused :class:`Choice` with the message and the error class to raise."""
    here = where(model, sector)
    by_name = {o.name: o for o in options}
    explicit = request.method != AUTO
    general = by_name.get(request.method if explicit else ("blocks" if request.symmetries else "stored"))
    for_what = f" for {request.describe()}" if not request.ground_only else ""
    if general is not None and general.limited_by == "memory":
        numbers = describe_size(size, general.estimate, available, request)
        message = f"{here} is too large{for_what}: {numbers}; refusing to build (limit {format_bytes(limit)})"
        error: type[Exception] = TooLargeError
    elif general is not None and general.limited_by == "time":
        est = general.estimate
        message = (f"{here} is too large{for_what}: {describe_size(size, est, available, request)}; "
                   f"it would take {approx_seconds(est.seconds)} (rough), more than the time limit of "
                   f"{format_seconds(seconds)} (EDKIT_TIME_LIMIT, seconds; 0 for none): refusing to start")
        error = TooLargeError
    elif explicit and general is not None:
        message = f"{here}: method={request.method!r}: {general.reason}"
        error = TooLargeError if general.limited_by == "capacity" else UnsupportedRequestError
    else:
        reasons = "; ".join(f"{o.name}: {o.reason}" for o in options if o.reason)
        return Choice(model, sector, request, None, f"{here}: nothing can do {request.describe()}: {reasons}",
                      options, size, limit, available, None, UnsupportedRequestError)
    if general.limited_by in ("memory", "time") and not explicit:
        if not request.symmetries:
            message += ("; lattice symmetries (translation, reflection, spin inversion) divide the "
                        "dimension by their group order: see `edkit plan`")
        for o in options:
            if o is general or o.limited_by is None:
                continue
            if o.limited_by == "capacity" and o.alternative is not None:
                fits = "fits" if o.alternative.bytes <= limit else "does not fit either"
                message += (f"; the {o.name} ground energy {fits} (~{format_bytes(o.alternative.bytes)}), "
                            f"but {o.reason}")
            else:
                message += f"; {o.name}: {o.reason}"
    return Choice(model, sector, request, None, message, options, size, limit, available, None, error)


@dataclass
class Plan:
    """Estimated sizes of one sector's (or symmetry block's) Hamiltonian, and the planner's choice.

    ``dimension`` is the number of states diagonalized (after constraints; per block when
    symmetries are given), ``built_dimension`` the basis QuSpin builds before constraints,
    ``nonzeros`` the stored matrix elements, ``bytes`` the estimated peak memory of the stored path.
    ``path``: ``"dense"`` or ``"sparse"`` when the stored matrix fits, else ``"matrix-free"`` when
    the matrix-free ground energy fits (``matrix_free_possible``), else ``"too-large"``.
    ``matrix_free_bytes``, ``matrix_free_seconds``: the matrix-free ground energy, or the request
    (``nev`` levels, vectors) when it asks for more and the matrix-free backend can do it.
    ``backend``/``reason``: the backend :func:`choose` takes for the request and why (``None`` and the
    refusal when nothing can do it); ``notice``: what is said on stderr before the work starts.
    """

    dimension: int
    built_dimension: int
    nonzeros: int
    bytes: int
    available: int
    sector_dimension: int = 0
    symmetry_reduction: int = 1
    complex_values: bool = False
    matrix_bytes: int = 0
    vector_bytes: int = 0
    build_bytes: int = 0
    basis_bytes: int = 0
    matrix_free_bytes: int = 0
    path: str = "sparse"
    build_seconds: float = 0.0
    symmetries: tuple[str, ...] = ()
    solve_seconds: float = 0.0
    n_blocks: int = 1
    n_blocks_solved: int = 1
    matrix_free_seconds: float = 0.0
    matrix_free_possible: bool = False
    nev: int = 1
    matrix_free_what: str = ""
    backend: str | None = None
    reason: str = ""
    notice: str | None = None
    limit: int = 0
    choice: Choice | None = field(default=None, repr=False)

    def describe(self) -> str:
        """One line with the numbers (engineering units)."""
        block = (f" per block of {''.join(self.symmetries)} (sector {format_count(self.sector_dimension)})"
                 if self.symmetry_reduction > 1 else "")
        return (f"dimension {format_count(self.dimension)}{block} "
                f"(built {format_count(self.built_dimension)}), ~{format_count(self.nonzeros)} non-zeros, "
                f"~{format_bytes(self.bytes)} needed, "
                f"{format_bytes(self.available)} available")

    def explain(self) -> str:
        """The planner's choice in words: ``"matrix-free: faster than building ..."`` or the refusal."""
        return self.choice.explain() if self.choice is not None else f"{self.backend}: {self.reason}"

    def text_lines(self) -> list[str]:
        """The body of ``edkit plan`` (sizes, memory, times, path, backend), in engineering units."""
        lim = self.limit or memory_limit(self.available)
        lines = [f"  sector dimension  {format_count(self.sector_dimension)} "
                 f"(basis built {format_count(self.built_dimension)})"]
        if self.symmetries:
            lines.append(f"  symmetries        {''.join(self.symmetries)}: largest block "
                         f"~{format_count(self.dimension)} (sector / {self.symmetry_reduction})")
        per = " per block" if self.symmetries else ""
        lines += [
            f"  non-zeros         ~{format_count(self.nonzeros)}{per} "
            f"({'complex' if self.complex_values else 'real'})",
            f"  matrix            {format_bytes(self.matrix_bytes)}; "
            f"build peak {format_bytes(self.build_bytes)}; Lanczos vectors {format_bytes(self.vector_bytes)}",
            f"  peak              {format_bytes(self.bytes)} of {format_bytes(lim)} allowed "
            f"({format_bytes(self.available)} available)",
            f"  matrix-free       {format_bytes(self.matrix_free_bytes)}, "
            f"{approx_seconds(self.matrix_free_seconds)}"
            + ("" if self.matrix_free_possible else " (not possible here)")
            + (f" ({self.matrix_free_what})" if self.matrix_free_what else
               " (ground energy by three-vector Lanczos)")
            + f"; taken from {format_count(MATRIX_FREE_DIMENSION)} states or when the stored matrix "
              f"does not fit; up to {MAX_MATRIX_FREE_LEVELS} levels; no constraints or blocks",
            f"  time (rough)      build {approx_seconds(self.build_seconds)}, "
            f"solve {approx_seconds(self.solve_seconds)}"
            + (f" per block; {self.n_blocks_solved} of {self.n_blocks} blocks solved (k, -k paired): "
               f"{approx_seconds(self.n_blocks_solved * (self.build_seconds + self.solve_seconds))}"
               if self.symmetries else ""),
            f"  path              {self.path}",
            f"  backend           {self.explain()}",
        ]
        return lines

    def as_dict(self) -> dict:
        """Plain data for ``edkit plan --json`` (sizes in bytes, times in seconds)."""
        out = {
            "dimension": self.dimension, "sector_dimension": self.sector_dimension,
            "built_dimension": self.built_dimension, "symmetries": list(self.symmetries),
            "symmetry_reduction": self.symmetry_reduction, "nonzeros": self.nonzeros,
            "complex": self.complex_values, "bytes_peak": self.bytes,
            "bytes_matrix": self.matrix_bytes, "bytes_vectors": self.vector_bytes,
            "bytes_build": self.build_bytes, "bytes_basis": self.basis_bytes,
            "bytes_matrix_free": self.matrix_free_bytes, "bytes_available": self.available,
            "path": self.path, "build_seconds_rough": _rough(self.build_seconds),
            "lanczos_seconds_rough": _rough(self.solve_seconds), "blocks": self.n_blocks,
            "blocks_solved": self.n_blocks_solved,
            "matrix_free_seconds_rough": _rough(self.matrix_free_seconds),
            "all_blocks_seconds_rough": _rough(self.n_blocks_solved
                                               * (self.build_seconds + self.solve_seconds)),
            "nev": self.nev, "backend": self.backend, "reason": self.reason, "notice": self.notice,
        }
        if self.choice is not None:
            out["backends"] = [o.as_dict() for o in self.choice.options]
        return out


def _rough(seconds: float) -> float | None:
    """Seconds to one decimal below 1e4 s, three significant digits above (no 40-digit numbers);
    ``None`` beyond a double (JSON has no infinity)."""
    if not math.isfinite(seconds):
        return None
    return round(seconds, 1) if seconds < 1e4 else float(f"{seconds:.3g}")


def plan(model: Model, sector: Sector, n_vectors: int = 40, symmetries: Sequence = (),
         dense_limit: int = DENSE_LIMIT, *, nev: int = 1, vectors: bool = False,
         method: str = AUTO) -> Plan:
    """Sizes, memory and times of a sector before anything is built, and the planner's choice.

    Counting: :func:`edkit.engine.sizes.sector_size`. Stored path (the sizes of the plan):
    :func:`edkit.engine.backends.stored.stored_estimate` (``n_vectors`` Lanczos vectors, dense up to
    ``dense_limit`` states or for ``nev`` close to the dimension). The matrix-free numbers are the
    kernel's (:mod:`edkit.engine.backends.matrix_free`). ``backend``/``reason`` come from
    :func:`choose` for ``nev``, ``vectors``, ``method`` and the symmetry blocks.
    """
    request = Request(nev=nev, vectors=vectors, method=method, symmetries=tuple(symmetries))
    size = sector_size(model, sector, symmetries)
    st = stored_estimate(size, request, dense_limit, n_vectors)
    available = available_memory()
    limit = memory_limit(available)
    free = matrix_free_bytes(size.sector_dimension, model.n_orbitals, size.value_bytes)
    free_seconds = matrix_free_seconds(size.sector_dimension)
    free_what = ""
    mf = get("matrix-free")
    free_ok = mf.supports(model, sector, Request(symmetries=tuple(symmetries))) is None and free <= limit
    if not request.ground_only and not symmetries and mf.supports(model, sector, request) is None:
        est = mf.estimate(model, sector, request)  # what the request costs matrix-free
        free, free_seconds, free_what = est.bytes, est.seconds, est.what
    if st.bytes <= limit:
        path = "dense" if st.numbers["dense"] else "sparse"
    else:
        path = "matrix-free" if free_ok else "too-large"
    choice = choose(model, sector, request)
    return Plan(size.dimension, size.built_dimension, size.nonzeros, int(st.bytes), available,
                sector_dimension=size.sector_dimension, symmetry_reduction=size.symmetry_reduction,
                complex_values=size.complex_values, matrix_bytes=st.numbers["bytes_matrix"],
                vector_bytes=st.numbers["bytes_vectors"], build_bytes=st.numbers["bytes_build"],
                basis_bytes=st.numbers["bytes_basis"], matrix_free_bytes=int(free), path=path,
                build_seconds=st.numbers["build_seconds"], symmetries=size.symmetries,
                solve_seconds=st.numbers["solve_seconds"], n_blocks=size.n_blocks,
                n_blocks_solved=size.n_blocks_solved,
                matrix_free_seconds=free_seconds, matrix_free_what=free_what,
                matrix_free_possible=free_ok, nev=request.nev, backend=choice.name, reason=choice.reason,
                notice=choice.notice, limit=limit, choice=choice)


def check_fits(model: Model, sector: Sector, fraction: float = 0.8, symmetries: Sequence = (),
               allow_matrix_free: bool = False) -> Plan:
    """Raise :class:`TooLargeError` if the stored path's estimate exceeds the memory limit.

    With ``symmetries`` the estimate is per block (blocks are built one at a time). With
    ``allow_matrix_free`` a sector whose stored matrix does not fit but whose matrix-free ground
    energy does is accepted: the returned plan then has ``path == "matrix-free"``.
    """
    p = plan(model, sector, symmetries=symmetries)
    limit = memory_limit(p.available, fraction)
    if p.bytes > limit and not (allow_matrix_free and p.path == "matrix-free"):
        hint = ""
        if not symmetries:
            hint = ("; lattice symmetries (translation, reflection, spin inversion) divide the "
                    "dimension by their group order: see `edkit plan`")
        if p.path == "matrix-free":
            hint += (f"; the matrix-free ground energy fits (~{format_bytes(p.matrix_free_bytes)}): "
                     f"solve_sector(..., nev=1..{MAX_MATRIX_FREE_LEVELS}, method='matrix-free')")
        raise TooLargeError(f"{where(model, sector)} is too large: {p.describe()}; refusing to build "
                            f"(limit {format_bytes(limit)}){hint}")
    return p


__all__ = ["MATRIX_FREE_DIMENSION", "MAX_MATRIX_FREE_LEVELS", "METHODS", "NOTICE_SECONDS",
           "Choice", "Option", "Plan", "TooLargeError",
           "UnsupportedRequestError", "available_memory", "check_fits", "check_method", "choose",
           "count_states", "describe_size", "memory_limit", "plan"]
