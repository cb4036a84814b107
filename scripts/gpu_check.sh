#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU: the cuda and numba-cuda behaviour suites (real GPU,
# not the simulator), the GPU-only tests (marker `gpu`), conformance and quick benchmarks.
# Usage: scripts/gpu_check.sh [OUTDIR]    (figures land in OUTDIR, default ./gpu-check)
set -u
cd "$(dirname "$0")/.."
OUT="${1:-gpu-check}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD:$PWD/backends${PYTHONPATH:+:$PYTHONPATH}"
export NUMBA_ENABLE_CUDASIM=0          # tests/conftest.py keeps this: numba-cuda on the real GPU
status=0

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt" || true
python -m portakern info | tee "$OUT/info.txt" || status=1

echo "== behaviour suite: cuda and numba-cuda, plus the gpu-marked tests"
python -m pytest tests/backends -q --maxfail=50 -k "cuda" -p no:cacheprovider \
    --junitxml="$OUT/behaviour.xml" 2>&1 | tee "$OUT/behaviour.txt" | tail -25
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
python -m pytest tests -q -m gpu -p no:cacheprovider 2>&1 | tee "$OUT/gpu_tests.txt" | tail -15
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "== conformance"
python -m portakern conformance --backends cuda,numba-cuda,opencl --json "$OUT/conformance.json" \
    2>&1 | tee "$OUT/conformance.txt" | tail -30
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "== benchmarks (quick)"
python -m portakern bench --backends cuda,numba-cuda --quick --json "$OUT/bench.json" \
    --csv "$OUT/bench.csv" 2>&1 | tee "$OUT/bench.txt" | tail -30
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "gpu_check: results in $OUT (exit $status)"
exit $status
