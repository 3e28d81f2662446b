"""Choose the Keras backend and numeric precision before Keras is imported.

Keras reads ``KERAS_BACKEND`` once, at import; setting it later has no effect. The entry
scripts call :func:`configure` first, so the package's model code stays backend-neutral
(``keras`` and ``keras.ops`` only) and runs on TensorFlow, JAX or PyTorch alike.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
from contextlib import ExitStack, contextmanager

BACKENDS = ("tensorflow", "jax", "torch")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "auto")
# CPU flags (Linux /proc/cpuinfo) of native bf16 matrix units: Intel AMX (Sapphire Rapids
# and later), AVX-512 BF16 (Cooper Lake, AMD Zen 4 and later). Without them TensorFlow
# emulates bf16 and mixed_bfloat16 is slower than float32.
BF16_FLAGS = ("amx_bf16", "avx512_bf16")
log = logging.getLogger(__name__)


def configure(backend: str, threads: int | None = None) -> None:
    """Select ``backend`` (and limit CPU threads) for the Keras import that follows.

    Raises ``RuntimeError`` if Keras was already imported with a different backend.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown Keras backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != backend:
            raise RuntimeError(
                f"keras is already imported with backend {keras.backend.backend()!r}; "
                f"cannot switch to {backend!r}"
            )
    os.environ["KERAS_BACKEND"] = backend
    # TensorFlow's C++ log: level 3 keeps its INFO, WARNING and ERROR lines off the
    # terminal, such as the "E0000 ... oneDNN supports DT_INT32 only on platforms with
    # AVX-512" of every training on an AVX-512 host, where nothing is wrong. Set it to 0 to
    # see them all (why a GPU is not used, say).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if threads:
        for var in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
            os.environ.setdefault(var, str(threads))
    if backend != "tensorflow":
        # Keras imports TensorFlow on the other backends too, where installed, for its data
        # utilities only: without oneDNN's kernels, which they do not use, nor its line
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    elif "tensorflow" not in sys.modules:
        # two lines TensorFlow writes at import whatever the log level ("oneDNN custom
        # operations are on", each after absl's "before InitializeLog" warning)
        with without_start_up_chatter():
            import tensorflow  # noqa: F401


# lines a backend writes on a healthy machine, whatever its log level
START_UP_CHATTER = re.compile(
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR$|^I\d{4} [\d:. ]+\d+ port\.cc:\d+\] oneDNN custom operations are on\."
)


@contextmanager
def without_start_up_chatter():
    """Everything written to file descriptor 2 inside the block (the C++ libraries' lines
    too), written out at its end without the lines of :data:`START_UP_CHATTER`."""
    with ExitStack() as stack:
        try:
            held = stack.enter_context(tempfile.TemporaryFile())
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):  # no usable stderr or temporary
            held = None  # folder: the lines pass as they are
        if held is None:
            yield
            return
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            held.seek(0)
            lines = held.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not START_UP_CHATTER.match(line.rstrip("\n")))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def cpu_bf16_flags(cpuinfo: str | None = None) -> list[str]:
    """The native bf16 flags (:data:`BF16_FLAGS`) this CPU reports (none off Linux)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
                cpuinfo = handle.read()
        except OSError:
            return []
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[-1].split())
            break  # every core reports the same
    return [f for f in BF16_FLAGS if f in flags]


def resolve_precision(precision: str, gpus: list[str] | None = None) -> str:
    """The dtype policy that ``precision`` means here.

    ``auto``: ``mixed_bfloat16`` on a CPU with native bf16 units (:data:`BF16_FLAGS`) and no
    GPU, ``float32`` otherwise (GPUs: choose ``mixed_bfloat16`` or ``mixed_float16``
    yourself; BENCHMARKS.md has what each does). Other values are returned as they are.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if gpus is None:
        gpus = describe_devices()["gpus"]
    return "mixed_bfloat16" if not gpus and cpu_bf16_flags() else "float32"


def set_precision(precision: str) -> str:
    """Set the Keras dtype policy (``float32``, ``mixed_bfloat16``, ``mixed_float16`` or
    ``auto``, see :func:`resolve_precision`); returns the policy set."""
    import keras

    policy = resolve_precision(precision)
    keras.mixed_precision.set_global_policy(policy)
    if precision == "auto":
        flags = ", ".join(cpu_bf16_flags()) or "none"
        log.info("precision auto: %s (CPU bf16 flags: %s)", policy, flags)
    return policy


def describe_devices() -> dict:
    """The backend, its version and the accelerators it sees (for logs and the report)."""
    import keras

    backend = keras.backend.backend()
    info = {"keras": keras.__version__, "backend": backend, "gpus": []}
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            info["backend_version"] = tf.__version__
            info["gpus"] = [d.name for d in tf.config.list_physical_devices("GPU")]
        elif backend == "jax":
            import jax

            info["backend_version"] = jax.__version__
            info["gpus"] = [str(d) for d in jax.devices() if d.platform == "gpu"]
        elif backend == "torch":
            import torch

            info["backend_version"] = torch.__version__
            if torch.cuda.is_available():
                info["gpus"] = [
                    torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
                ]
    except Exception as exc:  # device discovery must never stop a run
        log.warning("could not list devices: %s", exc)
    allocated = allocated_gpus()
    if allocated and not info["gpus"]:
        log.warning(
            "a GPU was allocated to this job (CUDA_VISIBLE_DEVICES=%s) but Keras's %s backend "
            "sees none; running on the CPU (slow). Install the backend's CUDA build on the GPU "
            "nodes, or run this rule without a GPU request",
            ",".join(allocated),
            backend,
        )
    info["allocated_gpus"] = allocated
    return info


def allocated_gpus() -> list[str]:
    """GPU ids the scheduler gave this process (``CUDA_VISIBLE_DEVICES``; Slurm sets it)."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    if value in ("", "-1", "NoDevFiles"):
        return []
    return [v for v in value.split(",") if v]
