"""Bad input of ``--device`` (exit 2, one clear line, before any work); GPU absence simulated."""

from __future__ import annotations

import pytest

from edkit.cli import main
from edkit.engine.devices import DeviceStatus


@pytest.fixture
def no_gpu(monkeypatch):
    import edkit.engine.devices as devices

    monkeypatch.setattr(devices, "detect", lambda: DeviceStatus(False, "CuPy is not importable (test)"))


@pytest.mark.parametrize("command", [
    ["gaps", "kbp", "--L", "3", "--only", "charge_gap"],
    ["spectrum", "hubbard", "--L", "4"],
    ["correlations", "hubbard", "--L", "4"],
    ["plan", "kbp", "--L", "8", "--bc", "periodic"],
])
def test_device_gpu_without_cupy_or_device_exits_2_with_what_is_missing(no_gpu, capsys, command):
    assert main([*command, "--device", "gpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edkit: error: --device gpu needs CuPy and a CUDA device: pip install 'edkit[gpu]'")
    assert "found: CuPy is not importable (test)" in err


def test_unknown_device_and_a_cpu_method_with_the_gpu_are_refused(no_gpu, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["gaps", "hubbard", "--L", "4", "--device", "tpu"])
    assert stop.value.code == 2
    assert "invalid choice: 'tpu'" in capsys.readouterr().err
    assert main(["gaps", "hubbard", "--L", "4", "--device", "gpu", "--method", "stored"]) == 2
    assert "--method stored runs on the CPU; give --device gpu with --method auto" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["gaps", "hubbard", "--L", "4", "--device", "cpu", "--device", "gpu"])
    assert "given twice" in capsys.readouterr().err
