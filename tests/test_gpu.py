"""The GPU backend without a GPU: the shared kernel body, the CUDA kernels under the simulator, the planner.

Independent truth: the brute-force Fock-space matrix of tests/helpers (no code shared with the
package), restricted to the sector in the product order ``i = rank(up) * D_dn + rank(dn)`` (a state
is the integer ``up | dn << n`` in both), compared element by element; and the stored path's full
spectrum (QuSpin, dense). The CUDA kernels of :mod:`edkit.engine.gpu_device` run in a subprocess
under the numba CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` must be set before numba.cuda is
imported) on sectors of at most 90 states. Tests marked ``gpu`` need a real device and skip
without one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from edkit.core.model import Sector
from edkit.engine.backends import Request, get
from edkit.engine.devices import DeviceError, DeviceStatus, check_device, resolve, use
from edkit.engine.gpu_kernel import cpu_matvec
from edkit.engine.matfree import MatrixFreeHamiltonian
from edkit.engine.solve import solve_sector
from edkit.models import MODELS, build_model
from tests.helpers.model_fock import full_matrix
from tests.helpers.models import flux_ring
from tests.test_matfree import exotic_ring

ROOT = Path(__file__).resolve().parents[1]


def product_oracle(model, values, sector) -> np.ndarray:
    """The Fock-space matrix restricted to the sector, rows and columns in the product order."""
    n = model.n_orbitals
    ups = np.array([s for s in range(1 << n) if bin(s).count("1") == sector.n_up], dtype=np.int64)
    dns = np.array([s for s in range(1 << n) if bin(s).count("1") == sector.n_dn], dtype=np.int64)
    states = (ups[:, None] | (dns[None, :] << n)).ravel()
    return full_matrix(model, model.resolve(values))[states][:, states].toarray()


def launcher_dense(op) -> np.ndarray:
    eye = np.eye(op.shape[0], dtype=op.dtype)
    return np.column_stack([cpu_matvec(op, e)[0] for e in eye])


def small_case(name: str):
    """A model of the registry at a size with 5-8 orbitals, and a sector of at most ~250 states."""
    try:
        model = build_model(name, 3, "periodic")
    except Exception:  # noqa: BLE001  (fixed-size models)
        model = build_model(name, None, "open")
    if model.n_orbitals < 5 and model.lattice.L is not None:
        try:
            model = build_model(name, 5, "periodic")
        except Exception:  # noqa: BLE001  (fixed-size models)
            pass
    sector = Sector(2, 2) if model.n_orbitals <= 6 else Sector(2, 1)
    return model, sector


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shared_body_cpu_launcher_on_every_matrix_free_model(name):
    model, sector = small_case(name)
    why = get("matrix-free").supports(model, sector, Request())
    if why is not None:
        pytest.skip(f"{name}: the matrix-free path does not apply ({why})")
    values = model.resolve({})
    values = {**values, **{k: 0.37 * (j + 1) for j, k in enumerate(values) if values[k] == 0}}  # all words on
    op = MatrixFreeHamiltonian(model, values, sector, threads=1)
    H = launcher_dense(op)
    np.testing.assert_allclose(H, product_oracle(model, values, sector), atol=1e-12, rtol=0)
    x = np.random.default_rng(3).standard_normal(op.shape[0])
    y, dot = cpu_matvec(op, x)
    np.testing.assert_allclose(y, H @ x, atol=1e-12)
    assert dot == pytest.approx(float(x @ H @ x), abs=1e-10)
    N, Sz = sector.n_up + sector.n_dn, (sector.n_up - sector.n_dn) / 2
    eig, _ = solve_sector(model, values, N, Sz, nev=op.shape[0], method="stored")
    np.testing.assert_allclose(np.linalg.eigvalsh(H), np.sort(eig.energies), atol=1e-12)


@pytest.mark.parametrize("which", ["flux", "exotic"])
def test_shared_body_complex_coefficients_and_general_words(which):
    if which == "flux":
        model, values, sector = flux_ring(6), {"t": 1.0, "phi": 0.4}, Sector(3, 2)
    else:
        model = exotic_ring(5)
        values = {"t": 1.0, "phi": 0.3, "U": 2.0, "h": 0.25, "P": 0.4, "J": 0.7}
        sector = Sector(2, 2)
    op = MatrixFreeHamiltonian(model, values, sector, threads=1)
    assert op.dtype == np.complex128
    assert (op.gen_len.shape[0] > 0) == (which == "exotic")  # pair hopping, exchange: general words
    H = launcher_dense(op)
    np.testing.assert_allclose(H, product_oracle(model, values, sector), atol=1e-12, rtol=0)


SIMULATOR = textwrap.dedent("""
    import json, os, warnings
    import numpy as np
    assert os.environ["NUMBA_ENABLE_CUDASIM"] == "1"
    warnings.simplefilter("ignore")
    from edkit.core.model import Sector
    from edkit.engine.gpu_device import DeviceOperator, lanczos_ground_energy
    from edkit.engine.matfree import MatrixFreeHamiltonian
    from edkit.models import build_model
    from tests.test_matfree import exotic_ring
    out = {}
    cases = {"kbp": (build_model("kbp", 3, "periodic"), {"U": 4.0, "mu_m": 0.3}, Sector(2, 1),
                     ["fused", "rows", "stripe:4", "split:5", "tsplit:4", "transpose:2"]),
             "exotic": (exotic_ring(4), {"t": 1.0, "phi": 0.3, "U": 2.0, "h": 0.25, "P": 0.4, "J": 0.7},
                        Sector(2, 1), ["fused", "rows", "stripe:3", "split:1", "tsplit:2", "transpose:4"])}
    for name, (model, values, sector, variants) in cases.items():
        host = MatrixFreeHamiltonian(model, values, sector, threads=1)
        rng = np.random.default_rng(5)
        x = rng.standard_normal(host.shape[0]) + (1j * rng.standard_normal(host.shape[0])
                                                 if host.dtype.kind == "c" else 0)
        row = {"dim": host.shape[0], "x": [[v.real, v.imag] for v in x.astype(complex)], "y": {}, "dot": {}}
        for v in variants:
            op = DeviceOperator(host, variant=v)
            y, dot = op.apply(x)
            row["y"][v] = [[c.real, c.imag] for c in np.asarray(y, dtype=complex)]
            row["dot"][v] = dot
        if name == "exotic":
            row["lanczos"] = lanczos_ground_energy(DeviceOperator(host, variant="split:3"))
        out[name] = row
    print(json.dumps(out))
""")


def test_cuda_kernels_under_the_simulator_match_the_fock_matrix():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", SIMULATOR], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    cases = {"kbp": (build_model("kbp", 3, "periodic"), {"U": 4.0, "mu_m": 0.3}, Sector(2, 1)),
             "exotic": (exotic_ring(4), {"t": 1.0, "phi": 0.3, "U": 2.0, "h": 0.25, "P": 0.4, "J": 0.7},
                        Sector(2, 1))}
    for name, (model, values, sector) in cases.items():
        row = data[name]
        H = product_oracle(model, values, sector)
        assert row["dim"] == H.shape[0] <= 100
        x = np.array([complex(*c) for c in row["x"]])
        for variant, y in row["y"].items():
            y = np.array([complex(*c) for c in y])
            np.testing.assert_allclose(y, H @ x, atol=1e-12, err_msg=f"{name} {variant}")
            assert row["dot"][variant] == pytest.approx((np.vdot(x, H @ x)).real, abs=1e-10)
        if "lanczos" in row:
            assert row["lanczos"]["converged"]
            assert row["lanczos"]["energy"] == pytest.approx(np.linalg.eigvalsh(H)[0], abs=1e-10)


# ----------------------------------------------------------------------------- devices and planner
NO_GPU = DeviceStatus(False, "CuPy is not importable (test)")
FAKE_GPU = DeviceStatus(True, None, 1, "Fake GPU", 8 * 2**30, 8 * 2**30, "0", False)


@pytest.fixture
def gpu_status(monkeypatch):
    """Pretend what detect() finds (and the free device memory)."""
    import edkit.engine.devices as devices

    def set_status(status: DeviceStatus, free: int | None = None) -> None:
        monkeypatch.setattr(devices, "detect", lambda: status)
        monkeypatch.setattr(devices, "free_memory", lambda: status.free if free is None else free)

    return set_status


def test_device_gpu_without_a_gpu_says_what_is_missing(gpu_status):
    gpu_status(NO_GPU)
    missing = r"needs CuPy and a CUDA device: pip install 'edkit\[gpu\]'; found: CuPy"
    with pytest.raises(DeviceError, match=missing):
        check_device("gpu")
    assert resolve("auto", 10**9) == "cpu" and resolve("cpu", 10**9) == "cpu"
    with pytest.raises(ValueError, match="device must be one of auto, cpu, gpu"):
        check_device("tpu")


def test_auto_takes_the_gpu_from_the_threshold_only(gpu_status):
    gpu_status(FAKE_GPU)
    assert resolve("auto", 199_999) == "cpu" and resolve("auto", 200_000) == "gpu"
    backend = get("gpu")
    hub = build_model("hubbard", 4, "periodic")
    small = hub.sector(4, 0)
    assert "from 200,000 states" in backend.supports(hub, small, Request())
    with use("cpu"):
        assert backend.supports(hub, small, Request()) == "device='cpu' was asked for"
    with use("gpu"):
        assert backend.supports(hub, small, Request()) is None
        assert "ground energy only" in backend.supports(hub, small, Request(nev=2))
        eff = build_model("kbp-eff", 2, "open")
        assert "occupation constraints" in backend.supports(eff, eff.sector(4, 0), Request())


def test_device_gpu_choice_fallback_and_refusal(gpu_status):
    from edkit.engine.planning import TooLargeError, choose

    gpu_status(FAKE_GPU)
    kbp = build_model("kbp", 6, "periodic")  # N=12: 853,776 states, 20 MiB per vector
    sector = kbp.sector(12, 0)
    with use("gpu"):
        assert choose(kbp, sector, Request()).name == "gpu"
        levels = choose(kbp, sector, Request(nev=3))  # beyond the GPU: the CPU, announced
        assert levels.name == "matrix-free" and "device='gpu'" in levels.notice
    with use("auto"):  # 853,776 states: about as fast on two cores as the GPU's setup; 7 rungs: the GPU
        assert choose(kbp, sector, Request()).name in ("gpu", "matrix-free")
        seven = build_model("kbp", 7, "periodic")
        assert choose(seven, seven.sector(14, 0), Request()).name == "gpu"
    with use("cpu"):
        assert choose(kbp, sector, Request()).name == "matrix-free"
    gpu_status(FAKE_GPU, free=2**30)  # 1 GiB free: 3 vectors + reserve do not fit
    with use("gpu"):
        refused = choose(kbp, sector, Request())
        assert refused.backend is None
        words = r"device='gpu': needs ~\S+ MiB of GPU memory .* free on Fake GPU"
        with pytest.raises(TooLargeError, match=words):
            refused.check()


def test_plan_device_gpu_reports_memory_and_refuses_what_does_not_fit(gpu_status, capsys):
    from edkit.cli import main

    gpu_status(FAKE_GPU, free=2**30)
    assert main(["plan", "kbp", "--L", "6", "--bc", "periodic", "--device", "gpu", "--json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert data["gpu"]["fits"] is False and data["gpu"]["bytes_free"] == 2**30
    assert data["gpu"]["bytes_needed"] == 3 * 853_776 * 8 + 2 ** (12 + 5)
    gpu_status(FAKE_GPU)
    assert main(["plan", "kbp", "--L", "6", "--bc", "periodic", "--device", "gpu"]) == 0
    out = capsys.readouterr().out
    assert "gpu               ~" in out and "free on Fake GPU: fits" in out and "backend           gpu" in out


def test_api_device_keyword_is_checked_and_in_the_signature(gpu_status):
    import inspect

    from edkit.api import gaps, spectrum

    assert inspect.signature(gaps).parameters["device"].default == "auto"
    gpu_status(NO_GPU)
    with pytest.raises(DeviceError, match="found: CuPy is not importable"):
        spectrum("hubbard", {}, N=4, Sz=0, L=4, device="gpu")
    assert spectrum("hubbard", {}, N=4, Sz=0, L=4, device="cpu")["energies"]


@pytest.mark.gpu
def test_device_lanczos_matches_the_cpu_kernel_on_a_real_gpu():
    from edkit.engine.devices import detect

    status = detect()
    if not status.available or status.simulated:
        pytest.skip(f"no CUDA device: {status.reason or 'simulator'}")
    from edkit.engine.gpu_device import device_operator, lanczos_ground_energy
    from edkit.engine.matfree import lanczos_ground_energy as cpu_lanczos

    model = build_model("kbp", 4, "periodic")
    sector = model.sector(8, 0)
    gpu = lanczos_ground_energy(device_operator(model, {}, sector))
    cpu = cpu_lanczos(MatrixFreeHamiltonian(model, {}, sector))
    assert gpu["energy"] == pytest.approx(cpu["energy"], abs=1e-10)
