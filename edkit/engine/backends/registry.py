"""The registry of backends: the planner asks every backend registered here."""

from __future__ import annotations

from edkit.core.errors import InputError
from edkit.engine.backends.base import AUTO, Backend

#: Registered backends by name, in registration order.
REGISTRY: dict[str, Backend] = {}


class UnknownBackendError(InputError):
    """A ``method`` that names no registered backend."""


def register(backend: Backend, *, replace: bool = False) -> Backend:
    """Add a backend (an object following :class:`edkit.engine.backends.base.Backend`); returns it.

    Raises
    ------
    TypeError
        If the object lacks ``name``, ``supports``, ``estimate`` or ``solve``.
    ValueError
        If the name is taken (unless ``replace``) or is ``"auto"``.
    """
    if not isinstance(backend, Backend) or not isinstance(getattr(backend, "name", None), str):
        raise TypeError(f"{backend!r} is not a backend: it needs name, supports, estimate and solve")
    if backend.name == AUTO:
        raise ValueError("'auto' is the planner's choice, not a backend name")
    if backend.name in REGISTRY and not replace and REGISTRY[backend.name] is not backend:
        raise ValueError(f"a backend named {backend.name!r} is already registered")
    REGISTRY[backend.name] = backend
    return backend


def unregister(name: str) -> None:
    """Remove a backend (tests, experiments)."""
    REGISTRY.pop(name, None)


def get(name: str) -> Backend:
    """The backend registered as ``name``.

    Raises
    ------
    UnknownBackendError
        If there is none (the message lists the registered names).
    """
    _load_builtin()
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownBackendError(f"unknown backend {name!r}; registered: {', '.join(REGISTRY)}") from None


def names() -> list[str]:
    """Names of the registered backends."""
    _load_builtin()
    return list(REGISTRY)


def backends() -> list[Backend]:
    """The registered backends, in registration order."""
    _load_builtin()
    return list(REGISTRY.values())


def _load_builtin() -> None:
    import edkit.engine.backends  # noqa: F401  (imports and registers every backend module)


__all__ = ["REGISTRY", "UnknownBackendError", "backends", "get", "names", "register", "unregister"]
