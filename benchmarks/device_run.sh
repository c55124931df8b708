#!/usr/bin/env bash
# The GPU measurements of issue 16 in one run on the device machine (one H200; see ../shared/DEVICE.md).
#
#   bash benchmarks/device_run.sh            # from the checkout root; results under $OUT (at most 8 files)
#
# Environment: VARIANTS8 / VARIANTS9 (kernel orders timed at 8 / 9 rungs), ORDERS9 (configuration
# orders timed at 9 rungs, default ascending; 8 rungs times ascending and rcm), CLI_RUNS (default
# "nocache cold warm"). Steps, each with its own timeout so that one failure does not eat the budget (worst case ~9 min, typically ~5):
#   0. wheels (.whl/ -> /tmp/site), nvidia-smi, versions, numba.cuda smoke test (says why it fails)
#   1. benchmarks/gpu.py --check --rungs 8: every kernel variant against the CPU launcher (4, 5 rungs,
#      complex ring), bandwidth, matvec per variant at 8 rungs, Lanczos of N = 14, 16, 18 (charge gap)
#   2. the CLI charge gap at 8 rungs, timed after import, three times: without the kernel cache, then
#      EDKIT_GPU_CACHE=1 cold (fills numba's cache) and warm (loads it)
#   3. benchmarks/gpu.py --rungs 9: matvec variants and the Lanczos charge gap at 9 rungs (2.36e9 states)
#   4. a summary table (last lines of the output)
set -u
OUT=${OUT:-/tmp/edkit_gpu_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
    || echo "WARNING: pip install of .whl failed (QuSpin is needed only for the stored path)"
fi
export PYTHONPATH=/tmp/site:$PWD
T0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv,noheader 2>&1 | head -2

echo "== 0. versions and numba.cuda smoke test"
timeout 45 python3 - > "$OUT/smoke.log" 2>&1 <<'EOF'
import importlib.metadata as md, sys, traceback
for d in ("numpy", "scipy", "numba", "numba-cuda", "cupy-cuda13x", "cupy-cuda12x", "quspin"):
    try:
        print(d, md.version(d))
    except Exception:
        print(d, "not installed")
try:
    import cupy
    print("cupy", cupy.__version__, "devices", cupy.cuda.runtime.getDeviceCount(),
          "runtime", cupy.cuda.runtime.runtimeGetVersion(), "driver", cupy.cuda.runtime.driverGetVersion())
except Exception:
    print("CUPY FAILED:\n" + traceback.format_exc())
try:
    import numpy as np
    if not hasattr(np, "row_stack"):  # numba-cuda 0.30 with NumPy 2.5 (edkit.engine.gpu_device.import_cuda)
        print("numpy", np.__version__, "has no row_stack: restoring the alias before importing numba.cuda")
        np.row_stack = np.vstack
    from numba import cuda
    print("numba.cuda module", cuda.__file__, "is_available", cuda.is_available())
    @cuda.jit
    def smoke(x, y, acc):
        i = np.int64(cuda.blockIdx.x) * cuda.blockDim.x + cuda.threadIdx.x
        if i < x.shape[0]:
            v = x[i] * (1 + 0j)
            y[i] = v.real + v.imag + cuda.popc(np.int64(i))
            cuda.atomic.add(acc, 0, y[i])
    import cupy
    x = cupy.arange(1000, dtype=np.float64); y = cupy.empty_like(x); acc = cupy.zeros(1)
    smoke[4, 256](x, y, acc)
    ref = sum(float(i) + bin(i).count("1") for i in range(1000))
    print("numba.cuda smoke kernel on CuPy arrays:", "OK" if abs(float(acc[0]) - ref) < 1e-6 else
          f"WRONG {float(acc[0])} != {ref}")
except Exception:
    print("NUMBA.CUDA FAILED:\n" + traceback.format_exc())
    try:
        from numba import cuda
        cuda.detect()
    except Exception:
        traceback.print_exc()
    sys.exit(3)
EOF
echo "smoke rc=$?"; cat "$OUT/smoke.log"

echo "== 1. check + 8 rungs (variants, Lanczos charge gap)   [$(( $(date +%s) - T0 )) s]"
timeout 170 python3 benchmarks/gpu.py --check --rungs 8 --repeats 10 ${VARIANTS8:+--variants $VARIANTS8} \
  --out "$OUT/gpu_8.json" > "$OUT/gpu_8.log" 2>&1
echo "gpu.py 8 rungs rc=$?"; grep -v '^ \|^{\|^}' "$OUT/gpu_8.log" | tail -40

echo "== 2. CLI charge gap at 8 rungs, timed after import   [$(( $(date +%s) - T0 )) s]"
for run in ${CLI_RUNS:-nocache cold warm}; do  # nocache: compiled in-process; cold: fills numba's cache; warm: loads it
  if [ $run = nocache ]; then cache=0; limit=60; else cache=1; limit=50; fi
  EDKIT_GPU_CACHE=$cache timeout $limit python3 -c "
import json, sys, time
t0 = time.perf_counter()
from edkit.cli import main
t1 = time.perf_counter()
rc = main(sys.argv[1:])
t2 = time.perf_counter()
print(json.dumps({'run': '$run', 'import_s': round(t1 - t0, 3), 'after_import_s': round(t2 - t1, 3), 'rc': rc}),
      file=sys.stderr)
sys.exit(rc)" gaps kbp --L 8 --bc periodic --only charge_gap --device gpu --json >> "$OUT/cli_8.json" 2>> "$OUT/cli_8.log"
  echo "cli $run rc=$?"
done
tail -20 "$OUT/cli_8.log"; grep -E '"(energy|charge_gap)"' "$OUT/cli_8.json"

if [ "${SKIP9:-0}" != 1 ]; then
echo "== 3. 9 rungs (2.36e9 states)   [$(( $(date +%s) - T0 )) s]"
timeout 160 python3 benchmarks/gpu.py --rungs 9 --repeats 5 --variants ${VARIANTS9:-fused,rows,tsplit:32,transpose:32,transpose:64} \
  --orders ${ORDERS9:-ascending} --out "$OUT/gpu_9.json" > "$OUT/gpu_9.log" 2>&1
echo "gpu.py 9 rungs rc=$?"; grep -v '^ \|^{\|^}' "$OUT/gpu_9.log" | tail -20

fi
echo "== 4. summary   [$(( $(date +%s) - T0 )) s]"
python3 - "$OUT" > "$OUT/summary.txt" 2>&1 <<'EOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
def load(name):
    try:
        return json.loads((out / name).read_text())
    except Exception as err:
        print(f"{name}: not readable ({err})")
        return {}
g8, g9 = load("gpu_8.json"), load("gpu_9.json")
dev = g8.get("device", {})
print(f"device {dev.get('name')}  free {dev.get('free', 0) / 2**30:.1f} GiB  "
      f"bandwidth {g8.get('bandwidth', {}).get('bytes_per_s', 0) / 1e12:.2f} TB/s")
if "check" in g8:
    print(f"check: {'all OK' if g8['check'].get('ok') else 'FAILED'}")
print(f"{'rungs':>5} {'order':>9} {'variant':>11} {'matvec ms':>10} {'x bound':>8}")
for g in (g8, g9):
    for run in g.get("runs", []):
        for key in sorted(k for k in run if k.startswith("matvec")):
            mv, order = run[key], run[key].get("order", "ascending")
            for v, r in mv.get("variants", {}).items():
                if "median_s" in r:
                    print(f"{run['rungs']:>5} {order:>9} {v:>11} {r['median_s'] * 1e3:10.3f} "
                          f"{r['ratio_to_bound'] or 0:8.2f}")
                else:
                    print(f"{run['rungs']:>5} {order:>9} {v:>11} {r.get('error', '?')}")
print(f"{'rungs':>5} {'N':>3} {'dim':>14} {'E':>20} {'steps':>5} {'lanczos s':>9} {'ms/step':>8} variant")
for g in (g8, g9):
    for run in g.get("runs", []):
        la = run.get("lanczos", {})
        for s in la.get("sectors", []):
            print(f"{run['rungs']:>5} {s['N']:>3} {s['dimension']:>14,} {s['energy']:20.12f} {s['steps']:>5} "
                  f"{s['lanczos_s']:9.2f} {s['seconds_per_step'] * 1e3:8.2f} {s['variant']}")
        if "charge_gap" in la:
            print(f"{run['rungs']:>5} charge gap {la['charge_gap']:.12f}, Lanczos {la['lanczos_s_total']:.2f} s")
        if "error" in run:
            print(f"{run['rungs']:>5} ERROR {run['error'].splitlines()[-1]}")
for line in (out / "cli_8.log").read_text().splitlines() if (out / "cli_8.log").exists() else []:
    if line.startswith("{"):
        print("CLI gaps --L 8 --only charge_gap --device gpu:", line)
print("peak device pool bytes:", g8.get("peak", {}).get("pool_bytes"), g9.get("peak", {}).get("pool_bytes"))
EOF
cat "$OUT/summary.txt"
echo "total $(( $(date +%s) - T0 )) s; files: $(ls "$OUT" | tr '\n' ' ')"
