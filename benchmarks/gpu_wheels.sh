#!/usr/bin/env bash
# Fetch what the GPU machine lacks for benchmarks/gpu.sh (it has PyTorch, JAX, NumPy, h5py,
# but no Keras and no network): Keras 3 and its two small dependencies, as wheels for its
# Python 3.12 on x86-64, into .whl/ (git-ignored). Run here, on a machine with network.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
for pkg in keras==3.15.1 namex==0.1.0 optree==0.19.0; do
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl "$pkg"
done
ls -l .whl
