#!/usr/bin/env bash
# Training throughput on one NVIDIA H100/H200 with PyTorch (and JAX) but no TensorFlow and
# no network: Keras 3 runs on the torch backend from the wheels in .whl/
# (benchmarks/gpu_wheels.sh fetches them). Builds a synthetic 500,000-fragment training set
# and prints fragments/s of (a) the model on in-memory tensors and (b) the project's pipeline
# from the HDF5 file, in float32 and bfloat16. About 5 minutes on an H100.
#   bash benchmarks/gpu.sh [fragments] [backend]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-500000}
BACKEND=${2:-torch}
export KERAS_BACKEND=$BACKEND BENCH_TMP=${BENCH_TMP:-/tmp}
if ! python3 -c "import keras" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
for precision in float32 mixed_bfloat16; do
  python3 -u benchmarks/bench_train.py --fragments "$N" --batch 1024 --repeat 2 \
    --precision "$precision" --workers 4 --training-only
done
