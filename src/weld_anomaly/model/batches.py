"""Feed fragments to Keras: batches of float32 in [0, 1], streamed and shuffled reproducibly.

:class:`FragmentBatches` is a ``keras.utils.PyDataset``, so it works with every Keras
backend. Its source is a ``(N, S, S)`` uint8/uint16 array: either an in-memory NumPy array
(when the set fits ``memory_limit_mb``, the fastest) or the chunked HDF5 dataset itself,
read in whole chunks, never fragment by fragment.

Shuffling follows the chunk layout, as ``tf.data``'s shuffle buffer would: each epoch draws
a permutation of the chunks, cuts it into groups of ``group_chunks`` chunks, and shuffles
the fragments within each group. A batch is then a contiguous slice of that order, so a
group is read once, in ``group_chunks`` contiguous slabs, and memory stays at two groups.
The order of epoch ``e`` depends on ``(seed, e)`` alone: a run resumed at epoch ``e`` sees
the same batches as an uninterrupted one. Batches are random-access and thread-safe:
training reads them through :meth:`FragmentBatches.epochs`, which prepares the next ones in
worker threads while the model computes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import h5py
import keras
import numpy as np

from weld_anomaly.ingest.tiling import scale


def open_fragments(path, memory_limit_mb: float) -> tuple[np.ndarray | h5py.Dataset, int]:
    """The ``fragments`` of a training-set file: in memory if it fits, else the HDF5 dataset.

    Returns the source and its chunk length (fragments per chunk).
    """
    f = h5py.File(path, "r")
    ds = f["fragments"]
    chunk = ds.chunks[0] if ds.chunks else 256
    if ds.nbytes <= memory_limit_mb * 2**20:
        data = ds[()]
        f.close()
        return data, chunk
    return ds, chunk


def add_blemishes(
    x: np.ndarray, rng: np.random.Generator, share: float = 0.5, max_radius: float = 12.0
) -> np.ndarray:
    """Copies of fragments ``(N, S, S, 1)`` in [0, 1] with random elliptical blemishes.

    ``share`` of the fragments get 1 to 3 ellipses (radii 1.5-``max_radius`` px, any
    orientation) whose
    thickness profile darkens (80 %) or brightens (20 %) the fragment by 0.02-0.15 at their
    centre: generic local blemishes, not a model of any particular defect. Training the
    autoencoder to restore the clean fragment (a denoising objective) teaches it the weld's
    texture and to ignore local spots, so at inspection time cavities stay in the residual
    instead of being reconstructed.
    """
    out = x.copy()
    n, size = x.shape[0], x.shape[1]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    for k in np.nonzero(rng.random(n) < share)[0]:
        for _ in range(int(rng.integers(1, 4))):
            cy, cx = rng.uniform(0, size, 2)
            ry, rx = rng.uniform(1.5, max_radius, 2)
            angle = rng.uniform(0, np.pi)
            c, s = np.cos(angle), np.sin(angle)
            u = ((xx - cx) * c + (yy - cy) * s) / rx
            v = (-(xx - cx) * s + (yy - cy) * c) / ry
            profile = np.sqrt(np.clip(1.0 - u * u - v * v, 0.0, None))
            sign = 1.0 if rng.random() < 0.8 else -1.0
            out[k, ..., 0] -= np.float32(sign * rng.uniform(0.02, 0.15)) * profile
    return np.clip(out, 0.0, 1.0)


class FragmentBatches(keras.utils.PyDataset):
    """Batches ``(x, x)`` of fragments for autoencoder training or validation.

    With ``corruption="blemishes"`` the inputs carry random blemishes (:func:`add_blemishes`,
    drawn from ``(seed, epoch, batch)``) and the targets stay clean.
    """

    def __init__(
        self,
        fragments: np.ndarray | h5py.Dataset,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        chunk: int = 256,
        group_chunks: int = 16,
        corruption: str = "none",
        blemish_max_radius: float = 12.0,
        per_epoch: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # at most this many fragments per epoch: the first batches of each epoch's shuffled
        # order, so every epoch sees another random part of the set
        self.per_epoch = int(per_epoch) if per_epoch else None
        self.blemish_max_radius = float(blemish_max_radius)
        if corruption not in ("none", "blemishes"):
            raise ValueError(f"unknown corruption {corruption!r}")
        self.corruption = corruption
        self.n = int(fragments.shape[0])
        if self.n == 0:
            raise ValueError("no fragments to train on")
        self.fragments = fragments
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.chunk = max(int(chunk), 1)
        self.group = max(int(group_chunks), 1) * self.chunk  # fragments per group
        self.epoch = 0
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._plans: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    # -- the order of an epoch ----------------------------------------------------------

    def _plan_for(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """The chunk order of ``epoch`` and the first position of each group in it."""
        starts = np.arange(0, self.n, self.chunk)
        if self.shuffle:
            starts = np.random.default_rng([self.seed, epoch]).permutation(starts)
        sizes = np.minimum(self.chunk, self.n - starts)
        per_group = self.group // self.chunk
        group_sizes = np.add.reduceat(sizes, np.arange(0, len(sizes), per_group))
        return starts, np.concatenate([[0], np.cumsum(group_sizes)])

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` for indexing (``batches[i]``; :meth:`epochs` names
        its epochs itself)."""
        self.epoch = int(epoch)

    def _plan_of(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_plan_for`, kept for the last two epochs asked for (under the lock)."""
        if epoch not in self._plans:
            self._plans[epoch] = self._plan_for(epoch)
            while len(self._plans) > 2:
                self._plans.popitem(last=False)
        return self._plans[epoch]

    def _load_group(self, epoch: int, g: int) -> np.ndarray:
        """The fragments of group ``g`` of ``epoch``, shuffled within the group (the last
        two groups asked for are kept: a batch may straddle two)."""
        key = (epoch, g)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            per_group = self.group // self.chunk
            starts = self._plan_of(epoch)[0][g * per_group : (g + 1) * per_group]
            # whole chunks, each one contiguous read
            block = np.concatenate([np.asarray(self.fragments[s : s + self.chunk]) for s in starts])
            if self.shuffle:
                block = block[np.random.default_rng([self.seed, epoch, g]).permutation(len(block))]
            self._cache[key] = block
            while len(self._cache) > 2:
                self._cache.popitem(last=False)
            return block

    # -- PyDataset ----------------------------------------------------------------------

    def __len__(self) -> int:
        full = -(-self.n // self.batch_size)
        return full if self.per_epoch is None else min(full, -(-self.per_epoch // self.batch_size))

    @property
    def seen_per_epoch(self) -> int:
        """How many fragments one epoch shows the model."""
        return min(self.n, len(self) * self.batch_size)

    def __getitem__(self, index: int):
        return self.batch(self.epoch, index)

    def batch(self, epoch: int, index: int):
        """Batch ``index`` of ``epoch``: ``(inputs, targets)``, float32 ``(B, S, S, 1)``."""
        start = index * self.batch_size
        stop = min(start + self.batch_size, self.n)
        with self._lock:
            bounds = self._plan_of(epoch)[1]
        parts = []
        while start < stop:
            g = int(np.searchsorted(bounds, start, side="right")) - 1
            end = min(stop, int(bounds[g + 1]))
            group = self._load_group(epoch, g)
            parts.append(group[start - bounds[g] : end - bounds[g]])
            start = end
        x = scale(np.concatenate(parts) if len(parts) > 1 else parts[0])
        if self.corruption == "blemishes":
            rng = np.random.default_rng([self.seed, epoch, index, 0xB1E])
            return add_blemishes(x, rng, max_radius=self.blemish_max_radius), x
        return x, x

    def on_epoch_end(self) -> None:
        self.set_epoch(self.epoch + 1)

    def epochs(self, first: int, last: int, workers: int = 1) -> Iterator:
        """Every batch of epochs ``first`` to ``last - 1``, in order: ``model.fit``'s input
        with ``steps_per_epoch=len(self)`` (the batches Keras would ask this dataset for,
        the same numbers).

        Keras's own data adapters add the least to a step for a plain generator (the
        pipeline at the bare step loop's pace: BENCHMARKS.md); ``workers`` threads (2 or
        more) prepare the next batches, in order, while the model computes (the adapter
        of the TensorFlow backend also reads one ahead; the others do not).
        """
        jobs = ((epoch, index) for epoch in range(first, last) for index in range(len(self)))
        if workers <= 1:
            yield from (self.batch(epoch, index) for epoch, index in jobs)
            return
        with ThreadPoolExecutor(workers, thread_name_prefix="batches") as pool:
            pending: deque = deque()
            try:
                for job in jobs:
                    pending.append(pool.submit(self.batch, *job))
                    if len(pending) > workers:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:  # (fit stopped early: the batches asked for ahead are dropped)
                for future in pending:
                    future.cancel()
