"""The ``gpu`` backend: the matrix-free ground energy of an ``(N_up, N_dn)`` sector on one CUDA device.

What it does: three-vector Lanczos (:func:`edkit.engine.gpu_device.lanczos_ground_energy`, the
stopping rule of :func:`edkit.engine.matfree.lanczos_ground_energy`) with the vectors on the device
(CuPy) and ``H x`` computed by numba.cuda kernels from the CPU matrix-free kernel's tables
(:mod:`edkit.engine.gpu_kernel`: one per-state body shared with a CPU launcher). Double precision;
real or complex coefficients; every word the CPU kernel handles (hopping, densities,
density-density, on-site, general words such as pair hopping).

Supports: the ground energy alone (``nev=1`` without eigenvectors) of a plain sector (no symmetry
blocks) of a model without occupation constraints and with at most
:data:`edkit.engine.backends.matrix_free.MAX_ORBITALS` orbitals, when a GPU is usable
(:func:`edkit.engine.devices.detect`) and the run fits in its free memory. ``supports`` says which
of these fails.

Cost model: device memory ``3 * dim * (8 or 16) B`` plus tables (the ``transpose`` kernel order
takes two more vectors when they fit, :mod:`edkit.engine.gpu_device`) (about ``2^(n+4)`` bytes and the
one-body tables) against the device's free memory less
:data:`edkit.engine.gpu_device.DEVICE_RESERVE`; host memory is the tables only. Time:
:data:`GPU_STEPS` Lanczos steps of :data:`GPU_SECONDS_PER_STATE_STEP` per state, plus
:data:`GPU_SETUP_SECONDS` (host tables, tuning), measured on one H200 (``benchmarks/gpu.py``).

It is chosen by the planner only when the device of the request allows it
(:mod:`edkit.engine.devices`: ``device="gpu"``, or ``"auto"`` from
:data:`edkit.engine.devices.GPU_DIMENSION` states) or by ``method="gpu"``.
:meth:`GpuBackend.operator` gives the device operator (``.shape``, ``.dtype``, ``.matvec(x)``,
``array_module = cupy``) for other Lanczos recursions (finite-temperature sampling).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from edkit.core.model import Model, Sector
from edkit.core.units import format_bytes, format_count
from edkit.engine.backends.base import Estimate, Request
from edkit.engine.backends.matrix_free import (
    MAX_ORBITALS,
    MatrixFreeEigen,
    MatrixFreeSpace,
    product_kernel_refusal,
)
from edkit.engine.backends.registry import register
from edkit.engine.progress import PROGRESS_DIMENSION, stderr_progress
from edkit.engine.sizes import as_float, sector_size

#: Lanczos steps assumed by the rough time (as the CPU kernel's).
GPU_STEPS = 300
#: Seconds per state and Lanczos step (matvec + update pass), measured on one H200 with the ``fused``
#: kernel: 14.0 ms per step at 1.66e8 states (8 rungs), 255 ms at 2.36e9 (9 rungs)
#: (``benchmarks/results/gpu_h200_8rungs.json``, ``gpu_h200_9rungs.json``).
GPU_SECONDS_PER_STATE_STEP = 1e-10
#: Seconds of setup per sector (host tables, copies, kernel tuning; the kernels' compilation on first
#: use adds a few seconds once per process, none with ``EDKIT_GPU_CACHE=1`` and a warm cache).
GPU_SETUP_SECONDS = 1.0
#: Name under which the planner and ``method=`` know this backend.
NAME = "gpu"


def gpu_bytes(dimension: int, value_bytes: int, n_orbitals: int, vectors: int = 3) -> int:
    """Device bytes of the ground energy: ``vectors`` vectors plus the tables (``2^(n+4)`` bytes, rank
    and configuration tables, and room for the one-body tables)."""
    tables = 2 ** (n_orbitals + 5) if n_orbitals <= MAX_ORBITALS else 0
    return int(vectors) * int(dimension) * int(value_bytes) + tables


def gpu_seconds(dimension: int) -> float:
    """Rough time of one ground energy on the device."""
    return GPU_SETUP_SECONDS + GPU_STEPS * as_float(dimension) * GPU_SECONDS_PER_STATE_STEP


class GpuBackend:
    """Ground energy by Lanczos on one CUDA device (module docs)."""

    name = NAME
    space = None

    def supports(self, model: Model, sector: Sector, request: Request) -> str | None:
        """``None`` when the request can run on the GPU here, else why not."""
        from edkit.engine.devices import GPU_DIMENSION, detect, request_device

        device = request_device(request)
        if device == "cpu":
            return "device='cpu' was asked for"
        if device == "auto" and sector_size(model, sector).sector_dimension < GPU_DIMENSION:
            return (f"device='auto' takes the GPU from {format_count(GPU_DIMENSION)} states (this sector has "
                    f"{format_count(sector_size(model, sector).sector_dimension)})")
        if not request.ground_only:
            return (f"the GPU backend computes the ground energy only (nev=1 without vectors), not "
                    f"{request.describe()}")
        why = product_kernel_refusal(model, sector, request, "the GPU kernel")
        if why:
            return why
        status = detect()
        if not status.available:
            return f"no usable GPU here: {status.reason}"
        need, free = self._memory(model, sector)
        from edkit.engine.gpu_device import DEVICE_RESERVE

        if need + DEVICE_RESERVE > free:
            size = sector_size(model, sector)
            return (f"needs ~{format_bytes(need)} of GPU memory (3 vectors of {format_count(size.dimension)} "
                    f"states + tables, plus a {format_bytes(DEVICE_RESERVE)} reserve), more than the "
                    f"{format_bytes(free)} free on {status.name}")
        return None

    @staticmethod
    def _memory(model: Model, sector: Sector) -> tuple[int, int]:
        from edkit.engine.devices import free_memory

        size = sector_size(model, sector)
        return gpu_bytes(size.dimension, size.value_bytes, model.n_orbitals), free_memory()

    def estimate(self, model: Model, sector: Sector, request: Request) -> Estimate:
        """Host bytes (tables) and rough seconds; device bytes and free memory in ``numbers``."""
        from edkit.engine.devices import detect

        size = sector_size(model, sector)
        dim = size.dimension
        need, free = self._memory(model, sector)
        host = 2 ** (model.n_orbitals + 5) + 64 * 2**20
        status = detect()
        what = f"GPU Lanczos on {format_count(dim)} states ({status.name})"
        return Estimate(host, gpu_seconds(dim), dim, what,
                        {"steps": GPU_STEPS, "vectors": 3, "device": status.name, "device_bytes": need,
                         "device_free_bytes": free})

    def operator(self, model: Model, values: Mapping[str, float], sector: Sector,
                 request: Request | None = None):
        """The device operator of ``H`` on ``sector`` (:class:`edkit.engine.gpu_device.DeviceOperator`):
        ``.shape``, ``.dtype``, ``.matvec(x)`` on device vectors, ``array_module`` (CuPy)."""
        from edkit.engine.gpu_device import device_operator

        options = {} if request is None else dict(request.options)
        return device_operator(model, values, sector, variant=str(options.get("gpu_variant", "auto")))

    def solve(self, model: Model, values: Mapping[str, float], sector: Sector, request: Request) -> tuple:
        """Ground energy; returns ``(MatrixFreeEigen, MatrixFreeSpace)`` (no vectors, no basis)."""
        from edkit.engine.gpu_device import check_memory, lanczos_ground_energy, plan_bytes
        from edkit.engine.solver import ConvergenceError

        op = self.operator(model, values, sector, request)
        dim = op.shape[0]
        check_memory(plan_bytes(dim, op.dtype.itemsize, op.table_bytes, 3),
                     f"GPU Lanczos on {format_count(dim)} states")
        progress = request.options.get("progress")
        if progress is None and dim >= PROGRESS_DIMENSION:
            progress = stderr_progress
        res = lanczos_ground_energy(op, seed=request.seed, progress=progress,
                                    check_every=10 if progress else 5)
        if not res["converged"]:
            raise ConvergenceError(f"GPU Lanczos did not converge in {res['iterations']} steps (residual "
                                   f"{res['residual']:.1e}, last energy change {res['energy_change']:.1e})")
        variant = op.variant + (f":{op.width}" if op.width else "")
        if progress is not None:
            progress(f"GPU Lanczos: {res['iterations']} steps in {res['seconds']:.2f} s (kernel {variant})")
        extra = {"steps": res["iterations"], "seconds": res["seconds"], "variant": variant,
                 "tuning": op.tuning}
        del op
        eig = MatrixFreeEigen(np.array([res["energy"]]), None, NAME, [], extra=extra)
        return eig, MatrixFreeSpace(dim, request.options.get("estimate"), None, sector)


BACKEND = register(GpuBackend())

__all__ = ["BACKEND", "GPU_SECONDS_PER_STATE_STEP", "GPU_SETUP_SECONDS", "GPU_STEPS", "GpuBackend",
           "gpu_bytes", "gpu_seconds"]
