#!/usr/bin/env bash
# The GPU checks, in one go, on a GPU box that has its own CUDA torch (README: "On a GPU box").
# What it runs: the CUDA tests, `python -m benchmarks --only gpu` and `--only training --device
# cuda`, a training run through the CLI on cuda (its files, eval.json, the NVML reading the
# monitor's device panel shows) and the backend tests with CUDA visible. Each step has its own
# time limit, so one that hangs leaves the others' results; logs and the benchmark results go
# to $OUT (default gpu-check-out/).
#
# Offline: with a folder .whl/ of the small wheels the box lacks (README), they are installed
# to /tmp/site and put first on PYTHONPATH beside src/, over the box's own torch.
set -u
OUT=${OUT:-gpu-check-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH="/tmp/site:$PWD/src:$PWD"
fi
# The box's own pytest plugins (pytest-benchmark, pytest-cov, ...) stay out: only the suite's.
export PYTEST_DISABLE_PLUGIN_AUTOLOAD=1
PLUGINS=(-p xdist.plugin -p pytest_timeout -p asyncio -p syrupy -p pytest_textual_snapshot -p no:cacheprovider)
step() { echo; echo "=== $1 ($(date +%T))"; }

step "machine" | tee "$OUT/env.txt"
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    nproc
    python3 -c "import sys, torch, torchvision; print(sys.version.split()[0], torch.__version__, torchvision.__version__, torch.cuda.is_available(), torch.cuda.get_device_name(0))"
    python3 -c "import textual, tui_cnn; print('textual', textual.__version__, 'tui_cnn from', tui_cnn.__file__)"
} 2>&1 | tee -a "$OUT/env.txt"

step "CUDA tests" | tee "$OUT/tests-cuda.log"
timeout 200 python3 -m pytest -q "${PLUGINS[@]}" -n 4 tests/backend/test_gpu.py tests/backend/test_cuda.py 2>&1 \
    | tee -a "$OUT/tests-cuda.log"

step "benchmark: gpu (precision, compilation, memory estimate)" | tee "$OUT/bench-gpu.log"
timeout 270 python3 -m benchmarks --only gpu --device cuda --output "$OUT/gpu-h200.json" 2>&1 | tee -a "$OUT/bench-gpu.log"

step "benchmark: the engine against a plain loop on cuda" | tee "$OUT/bench-training.log"
timeout 90 python3 -m benchmarks --only training --device cuda --output "$OUT/training-h200.json" 2>&1 \
    | tee -a "$OUT/bench-training.log"

step "a run through the CLI on cuda" | tee "$OUT/cli.log"
{
    rm -rf /tmp/gpu-check-run
    timeout 60 python3 -m tui_cnn train SimpleCNN --device cuda --epochs 2 --headless --run-dir /tmp/gpu-check-run
    echo "exit $?"
    ls /tmp/gpu-check-run
    cat /tmp/gpu-check-run/eval.json
    echo
    timeout 30 python3 -m tui_cnn runs --runs-dir /tmp | head -3
    python3 -c "from tui_cnn.backend.devices import gpu_count, gpu_stats; print('NVML:', gpu_count(), gpu_stats(0))"
} 2>&1 | tee -a "$OUT/cli.log"

step "backend tests with CUDA visible" | tee "$OUT/tests-backend.log"
timeout 120 python3 -m pytest -q "${PLUGINS[@]}" -n 12 --timeout 100 tests/backend 2>&1 | tail -40 \
    | tee -a "$OUT/tests-backend.log"
step "done"
