"""The observable registry: one object per observable, read by the API, sweeps, compare and the CLI.

An :class:`Observable` says what it is called, which flat columns it gives for a model, whether
it applies to a model (and why not), how it is computed for a model, parameter values and a
resolved sector, and which of its options a column name implies (for ``edkit compare``).

Registering one is a single call, in the file that computes it::

    from edkit.observables import Observable, register

    register(Observable(
        name="double_occupancy",
        summary="ground-state <n_up n_dn> summed over sites",
        compute_fn=my_function,                  # (model, values, sector, options) -> {column: value}
        column_names=("double_occupancy",),
    ))

after which ``evaluate("double_occupancy", ...)``, ``edkit sweep --observable double_occupancy``,
``edkit observables`` and ``edkit compare`` (a ``double_occupancy`` column) know it.

Family observables (two-wire binding energies, Drude weights, polarizer charge states) are
registered by their modules in :mod:`edkit.studies`; the registry imports every module of that
package the first time it is asked for a name it does not hold yet (:func:`names`, :func:`get`,
:func:`owners`), so a new study module registers itself without an edit here. Importing
:mod:`edkit.observables` itself loads neither NumPy nor QuSpin.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edkit.core.errors import InputError

if TYPE_CHECKING:
    from edkit.core.model import Model

#: ``compute_fn(model, values, sector, options) -> {column: number or None}``
ComputeFn = Callable[["Model", Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], dict]
#: Kinds of observables (``"thermal"`` and ``"dynamics"`` are reserved for what comes next).
KINDS = ("ground-state", "thermal", "dynamics")


class ObservableError(InputError):
    """An observable that cannot be computed as asked (does not apply, unknown option)."""


class UnknownObservableError(ObservableError):
    """An observable name that is not registered; the message lists the registered ones."""


@dataclass(frozen=True)
class Observable:
    """One observable: its name, options, output columns, applicability and computation.

    Attributes
    ----------
    name
        Registry name (``"energy"``, ``"gaps"``, ``"drude"``, ...); also the ``--observable`` value.
    summary
        One line for the CLI, the docs and ``edkit observables``.
    compute_fn
        ``(model, values, sector, options) -> dict``: the flat columns, each a number or ``None``
        (undefined for this sector). ``sector`` is the resolved mapping ``{"N", "Sz", ...}`` of
        :meth:`edkit.core.model.Model.resolve_sector`; ``options`` holds every option (defaults
        filled in).
    options
        Option names and their defaults (e.g. ``{"nev": 1}``); :func:`evaluate` refuses others.
    kind
        ``"ground-state"`` (today's observables); one of :data:`KINDS`.
    column_names
        The columns when they do not depend on the model or the options.
    columns_fn
        ``(model, options) -> list of column names`` when they do (overrides ``column_names``).
    applies_fn
        ``model -> None`` if the observable applies to the model, else one sentence why not
        (read ``model.capabilities``, never ``model.name``). Default: applies to every model.
    match_fn
        ``column -> options`` that make this observable produce the column, or ``None`` if it is
        not one of its columns (``edkit compare`` finds what to compute from a file's header).
        Default: the columns of ``column_names``, with no options.
    """

    name: str
    summary: str
    compute_fn: ComputeFn
    options: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "ground-state"
    column_names: tuple[str, ...] = ()
    columns_fn: Callable[[Model, Mapping[str, Any]], list[str]] | None = None
    applies_fn: Callable[[Model], str | None] | None = None
    match_fn: Callable[[str], dict | None] | None = None

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not name or "," in name or name != name.strip():
            raise ValueError(f"an observable name is a non-empty word without commas, got {self.name!r}")
        if self.kind not in KINDS:
            raise ValueError(f"observable {self.name!r}: kind must be one of {', '.join(KINDS)}, "
                             f"got {self.kind!r}")
        if self.columns_fn is None and not self.column_names:
            raise ValueError(f"observable {self.name!r} declares no columns (column_names or columns_fn)")

    def applies(self, model: Model) -> str | None:
        """``None`` if this observable applies to ``model``, else one sentence saying why not."""
        return None if self.applies_fn is None else self.applies_fn(model)

    def columns(self, model: Model, options: Mapping[str, Any] | None = None) -> list[str]:
        """The flat column names :meth:`compute` returns for ``model`` and ``options``."""
        if self.columns_fn is None:
            return list(self.column_names)
        return list(self.columns_fn(model, self.with_defaults(options)))

    def compute(self, model: Model, values: Mapping[str, Any] | None, sector: Mapping[str, Any],
                options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The flat columns ``{column: number or None}`` at ``values`` in ``sector``."""
        return self.compute_fn(model, dict(values or {}), sector, self.with_defaults(options))

    def match(self, column: str) -> dict | None:
        """Options implied by ``column`` if this observable produces it, else ``None``."""
        if self.match_fn is not None:
            return self.match_fn(column)
        return {} if column in self.column_names else None

    def with_defaults(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        """``options`` over the defaults; an option this observable does not have is refused."""
        given = dict(options or {})
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            known = ", ".join(self.options) or "none"
            raise ObservableError(f"observable {self.name!r} has no option(s) {', '.join(unknown)}; "
                                  f"its options: {known}")
        return {**self.options, **given}

    def describe(self) -> dict[str, Any]:
        """``{"name", "summary", "options", "kind"}`` (JSON-ready, for listings and docs)."""
        return {"name": self.name, "summary": self.summary, "options": dict(self.options),
                "kind": self.kind}


#: Every registered observable by name (built-in ones first, then in registration order). Family
#: observables appear once their study module is imported; :func:`names` and :func:`get` do that.
REGISTRY: dict[str, Observable] = {}

#: Packages whose modules register family observables at import.
FAMILY_PACKAGES = ("edkit.studies",)
_families_loaded = False


def register(obs: Observable, *, replace: bool = False) -> Observable:
    """Add ``obs`` to the registry and return it.

    Raises
    ------
    ValueError
        If another observable already has this name (``replace=True`` swaps it).
    """
    if not isinstance(obs, Observable):
        raise TypeError(f"register() takes an Observable, got {type(obs).__name__}")
    old = REGISTRY.get(obs.name)
    if old is not None and old is not obs and not replace:
        raise ValueError(f"an observable named {obs.name!r} is already registered")
    REGISTRY[obs.name] = obs
    return obs


def unregister(name: str) -> Observable | None:
    """Remove an observable (tests, notebooks); returns it, or ``None`` if it was not registered."""
    return REGISTRY.pop(name, None)


def load_families() -> None:
    """Import every module of :data:`FAMILY_PACKAGES` once, so their observables are registered."""
    global _families_loaded
    if _families_loaded:
        return
    _families_loaded = True  # first, so that a module asking for names while it loads sees no loop
    try:
        for package in FAMILY_PACKAGES:
            pkg = importlib.import_module(package)
            for info in pkgutil.iter_modules(pkg.__path__, prefix=f"{package}."):
                importlib.import_module(info.name)
    except BaseException:
        _families_loaded = False  # a later look-up tries again (and shows the error again)
        raise


def names(model: Model | None = None) -> list[str]:
    """Every registered observable name, or those that apply to ``model``."""
    load_families()
    return [n for n, obs in REGISTRY.items() if model is None or obs.applies(model) is None]


def get(name: str) -> Observable:
    """The observable called ``name``.

    Raises
    ------
    UnknownObservableError
        If no observable has this name (the message lists the registered ones).
    """
    if isinstance(name, str) and name in REGISTRY:
        return REGISTRY[name]
    load_families()
    if isinstance(name, str) and name in REGISTRY:
        return REGISTRY[name]
    raise UnknownObservableError(f"unknown observable {name!r}; choose from {', '.join(REGISTRY)}")


class NameView(Sequence[str]):
    """The registered names as a live read-only sequence (``"gaps" in NAMES``, ``list(NAMES)``).

    Membership of a registered name is answered without importing the study modules.
    """

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str) and name in REGISTRY:
            return True
        return name in names()

    def __iter__(self) -> Iterator[str]:
        return iter(names())

    def __len__(self) -> int:
        return len(names())

    def __getitem__(self, index):  # type: ignore[override]
        return names()[index]

    def __repr__(self) -> str:
        return repr(tuple(names()))


#: Live view of every registered observable name.
NAMES = NameView()


def split_sector(model: Model, sector: Mapping[str, Any] | None
                 ) -> tuple[int, float | None, dict[str, float]]:
    """``(N, Sz, extra)`` of a resolved sector mapping; ``Sz`` is ``None`` for spinless models.

    ``None`` means the model's default sector (:meth:`~edkit.core.model.Model.resolve_sector`).
    """
    values = model.resolve_sector() if sector is None else sector
    extra = {k: v for k, v in values.items() if k not in ("N", "Sz")}
    return int(values["N"]), (values.get("Sz") if model.spinful else None), extra


def evaluate(name: str, model: Model, values: Mapping[str, Any] | None,
             sector: Mapping[str, Any] | None = None,
             options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Compute observable ``name`` for ``model`` at ``values`` in ``sector``: its flat columns.

    Parameters
    ----------
    name
        A registered observable (:func:`names`).
    model
        A built model.
    values
        Parameter values (defaults for the rest).
    sector
        The sector ``{"N": n, "Sz": s, ...}``; missing entries (all of them for ``None``) take the
        model's defaults (:meth:`~edkit.core.model.Model.resolve_sector`).
    options
        Options of the observable (its defaults for the rest).

    Raises
    ------
    UnknownObservableError
        For a name that is not registered.
    ObservableError
        If the observable does not apply to the model, or for an option it does not have.
    """
    obs = get(name)
    why = obs.applies(model)
    if why is not None:
        raise ObservableError(f"observable {obs.name!r} does not apply to model {model.name!r}: {why}")
    return obs.compute(model, values, model.resolve_sector(sector), options)


def _merge(name: str, into: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Merge options implied by several columns: lists are joined, numbers take the largest."""
    for key, value in extra.items():
        if key not in into or into[key] == value:
            into[key] = value
        elif isinstance(into[key], list) and isinstance(value, list):
            into[key] = into[key] + [v for v in value if v not in into[key]]
        elif isinstance(into[key], (int, float)) and isinstance(value, (int, float)):
            into[key] = max(into[key], value)
        else:
            raise ObservableError(f"observable {name!r}: the columns ask for option {key} = "
                                  f"{into[key]!r} and {value!r} at once")


def owner(column: str) -> str | None:
    """The first registered observable that produces ``column``, or ``None``."""
    load_families()
    return next((n for n, obs in REGISTRY.items() if obs.match(column) is not None), None)


def owners(columns: Sequence[str]) -> dict[str, dict]:
    """``{observable name: merged options}`` whose evaluation gives every one of ``columns``.

    A column that one observable alone produces decides first; a column several produce (such
    as ``energy``) goes to one already chosen, else to the first registered. Columns that no
    observable produces are left out (see :func:`owner`).
    """
    load_families()
    claims = {col: [(n, m) for n, obs in REGISTRY.items() if (m := obs.match(col)) is not None]
              for col in columns}
    chosen: dict[str, dict] = {}
    for found in claims.values():
        if len(found) == 1:
            _merge(found[0][0], chosen.setdefault(found[0][0], {}), found[0][1])
    for found in claims.values():
        if len(found) > 1:
            n, opts = next(((n, m) for n, m in found if n in chosen), found[0])
            _merge(n, chosen.setdefault(n, {}), opts)
    return chosen


def offered(name: str) -> Callable[[Model], str | None]:
    """An ``applies_fn`` for a family observable: the model must list ``name`` in its capabilities."""

    def applies(model: Model) -> str | None:
        caps = model.capabilities
        if name in caps.observables:
            return None
        family = f"family {caps.family!r}" if caps.family else "no declared family"
        offers = ", ".join(caps.observables) or "none"
        return (f"{name!r} is a family observable and model {model.name!r} ({family}) does not offer "
                f"it (its family observables: {offers})")

    return applies


__all__ = ["FAMILY_PACKAGES", "KINDS", "NAMES", "REGISTRY", "ComputeFn", "NameView", "Observable",
           "ObservableError", "UnknownObservableError", "evaluate", "get", "load_families", "names",
           "offered", "owner", "owners", "register", "split_sector", "unregister"]
