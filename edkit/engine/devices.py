"""Where a solve runs: ``device="auto" | "cpu" | "gpu"`` (``--device`` on the command line).

- ``cpu``: the CPU backends only (the planner never takes the ``gpu`` backend);
- ``gpu``: the ``gpu`` backend (:mod:`edkit.engine.backends.gpu`) for every request it can do (the
  ground energy of an ``(N_up, N_dn)`` sector); a request it cannot do (levels, eigenvectors,
  symmetry blocks) runs on the CPU with a notice on stderr. Without CuPy or a CUDA device it is
  refused before any work (:class:`DeviceError`, exit 2 on the command line);
- ``auto`` (default): the GPU when one is usable and the sector has at least
  :data:`GPU_DIMENSION` states (below, launch and transfer overheads and the kernel compilation
  outweigh the gain), else the CPU.

The choice is made by the planner (:func:`edkit.engine.planning.choose`), which reads the device
of a request from ``request.options["device"]`` or, when absent, from :func:`current` (set for a
block of work by :func:`use`: the API's ``device=`` argument and ``--device`` use it, so that
every sector solved inside ``gaps``/``spectrum``/``correlations`` follows it).

Detection (:func:`detect`) imports CuPy only when asked (never at ``import edkit``) and caches
the answer; under the numba CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, tests) the simulator counts
as a device.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass

from edkit.core.errors import InputError

#: Accepted values of ``device``.
DEVICES = ("auto", "cpu", "gpu")
#: ``device="auto"`` takes the GPU from this many states (ground energy of one sector).
GPU_DIMENSION = 200_000
#: What to install for the GPU backend.
INSTALL_HINT = "pip install 'edkit[gpu]'"

_CURRENT: contextvars.ContextVar[str] = contextvars.ContextVar("edkit_device", default="auto")


class DeviceError(InputError):
    """``device="gpu"`` was asked for where no usable GPU is (CuPy or a CUDA device missing)."""


@dataclass(frozen=True)
class DeviceStatus:
    """What :func:`detect` found.

    Attributes
    ----------
    available
        Whether the ``gpu`` backend can run here.
    reason
        Why not (``None`` when available).
    count
        CUDA devices seen.
    name
        Name of the current device.
    free, total
        Its free and total memory in bytes (at detection).
    cupy
        CuPy's version (``None`` when not importable).
    simulated
        Whether this is the numba CUDA simulator (tests).
    """

    available: bool
    reason: str | None = None
    count: int = 0
    name: str | None = None
    free: int = 0
    total: int = 0
    cupy: str | None = None
    simulated: bool = False

    def describe(self) -> str:
        """``"NVIDIA H200, 139.8 GiB free of 139.8 GiB"`` or the reason."""
        from edkit.core.units import format_bytes

        if not self.available:
            return str(self.reason)
        return f"{self.name}, {format_bytes(self.free)} free of {format_bytes(self.total)}"

    def as_dict(self) -> dict:
        """Plain data (JSON)."""
        return {"available": self.available, "reason": self.reason, "count": self.count, "name": self.name,
                "free_bytes": self.free, "total_bytes": self.total, "cupy": self.cupy,
                "simulated": self.simulated}


@functools.lru_cache(maxsize=1)
def detect() -> DeviceStatus:
    """Whether a GPU is usable: CuPy importable, a CUDA device present, numba.cuda importable.

    Cached: call ``detect.cache_clear()`` to look again. Free memory is the value at detection;
    :func:`free_memory` asks again.
    """
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
        return DeviceStatus(True, None, 1, "numba CUDA simulator", 1 << 34, 1 << 34, None, True)
    try:
        import cupy
    except Exception as err:  # noqa: BLE001  (ImportError, or a CUDA library that fails to load)
        return DeviceStatus(False, f"CuPy is not importable ({type(err).__name__}: {err})")
    version = getattr(cupy, "__version__", "?")
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as err:  # noqa: BLE001
        return DeviceStatus(False, f"CuPy {version} found no CUDA device ({type(err).__name__}: {err})",
                            cupy=version)
    if count < 1:
        return DeviceStatus(False, f"CuPy {version} found no CUDA device", cupy=version)
    try:
        from edkit.engine.gpu_device import import_cuda

        import_cuda()
    except Exception as err:  # noqa: BLE001
        return DeviceStatus(False, f"numba.cuda is not importable ({type(err).__name__}: {err}); "
                                   "pip install numba-cuda", count, cupy=version)
    try:
        from edkit.engine.gpu_device import device_info

        info = device_info()
    except Exception as err:  # noqa: BLE001
        return DeviceStatus(False, f"the CUDA device cannot be used ({type(err).__name__}: {err})", count,
                            cupy=version)
    return DeviceStatus(True, None, count, info["name"], info["free"], info["total"], version)


def free_memory() -> int:
    """Free bytes on the current device now (0 without one)."""
    status = detect()
    if not status.available:
        return 0
    if status.simulated:
        return status.free
    from edkit.engine.gpu_device import device_info

    return int(device_info()["free"])


def check_device(device: object) -> str:
    """``device`` if it is one of :data:`DEVICES` (and, for ``"gpu"``, a GPU is usable).

    Raises
    ------
    InputError
        For another value.
    DeviceError
        For ``"gpu"`` without CuPy or a CUDA device (the message says what was found).
    """
    if not isinstance(device, str) or device not in DEVICES:
        raise InputError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "gpu":
        status = detect()
        if not status.available:
            raise DeviceError(f"--device gpu needs CuPy and a CUDA device: {INSTALL_HINT}; "
                              f"found: {status.reason}")
    return device


def resolve(device: str, dim: int) -> str:
    """``"cpu"`` or ``"gpu"`` for a sector of ``dim`` states (module docs).

    Raises
    ------
    InputError, DeviceError
        As :func:`check_device`.
    """
    check_device(device)
    if device == "auto":
        return "gpu" if int(dim) >= GPU_DIMENSION and detect().available else "cpu"
    return device


def request_device(request) -> str:
    """The device of a planner request: ``"gpu"`` for ``method="gpu"``, else ``request.options["device"]``
    when given, else :func:`current`."""
    if getattr(request, "method", None) == "gpu":
        return "gpu"
    device = (getattr(request, "options", None) or {}).get("device")
    return device if device in DEVICES else current()


def current() -> str:
    """The device set by the innermost :func:`use` (``"auto"`` outside any)."""
    return _CURRENT.get()


@contextlib.contextmanager
def use(device: str | None) -> Iterator[str]:
    """Solve on ``device`` within the block (``None``: leave the current one); checks it first."""
    if device is None:
        yield current()
        return
    token = _CURRENT.set(check_device(device))
    try:
        yield device
    finally:
        _CURRENT.reset(token)


def gpu_plan(model, sector, device: str, symmetries=()) -> dict | None:
    """The GPU part of ``edkit plan``: device bytes of the ground energy against the free memory.

    ``None`` for ``device="cpu"``, with symmetry blocks, or for ``"auto"`` below
    :data:`GPU_DIMENSION` states or without a GPU (CuPy is not imported then). Keys: ``device``,
    ``available``, ``reason``, ``name``, ``bytes_needed``, ``bytes_free``, ``fits``, ``text``.
    """
    from edkit.core.units import format_bytes, format_count
    from edkit.engine.backends.gpu import gpu_bytes
    from edkit.engine.sizes import sector_size

    if device == "cpu" or symmetries:
        return None
    size = sector_size(model, sector)
    if device == "auto" and size.sector_dimension < GPU_DIMENSION:
        return None
    status = detect()
    if device == "auto" and not status.available:
        return None
    need = gpu_bytes(size.sector_dimension, size.value_bytes, model.n_orbitals)
    out = {"device": device, "available": status.available, "reason": status.reason, "name": status.name,
           "bytes_needed": need, "bytes_free": None, "fits": None}
    if not status.available:
        out["text"] = f"not usable: {status.reason}"
        return out
    from edkit.engine.gpu_device import DEVICE_RESERVE

    free = free_memory()
    fits = need + DEVICE_RESERVE <= free
    out.update(bytes_free=free, fits=fits,
               text=f"~{format_bytes(need)} needed (3 vectors of {format_count(size.sector_dimension)} "
                    f"states + tables, plus {format_bytes(DEVICE_RESERVE)} reserve) of {format_bytes(free)} "
                    f"free on {status.name}: {'fits' if fits else 'does not fit'}")
    return out


__all__ = ["DEVICES", "GPU_DIMENSION", "INSTALL_HINT", "DeviceError", "DeviceStatus", "check_device",
           "current", "detect", "free_memory", "gpu_plan", "request_device", "resolve", "use"]
