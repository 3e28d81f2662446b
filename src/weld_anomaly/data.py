"""Feed fragments to Keras: batches of float32 in [0, 1], shuffled reproducibly.

:class:`FragmentBatches` is a ``keras.utils.PyDataset``, so it works with every Keras
backend. The fragments stay ``uint8`` (or ``uint16``) in memory and are scaled batch by
batch; the order of epoch ``e`` is a permutation drawn from ``(seed, e)`` alone, so a run
resumed at epoch ``e`` sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

import keras
import numpy as np


def scale(fragments: np.ndarray) -> np.ndarray:
    """Integer fragments ``(N, S, S)`` to float32 ``(N, S, S, 1)`` in [0, 1]."""
    top = 255.0 if fragments.dtype == np.uint8 else 65535.0
    return (fragments.astype(np.float32) / np.float32(top))[..., None]


class FragmentBatches(keras.utils.PyDataset):
    """Batches ``(x, x)`` of fragments for autoencoder training or validation."""

    def __init__(
        self, fragments: np.ndarray, batch_size: int, shuffle: bool = False, seed: int = 0, **kwargs
    ):
        super().__init__(**kwargs)
        if len(fragments) == 0:
            raise ValueError("no fragments to train on")
        self.fragments = fragments
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.epoch = 0
        self._order = self._order_for(0)

    def _order_for(self, epoch: int) -> np.ndarray:
        n = len(self.fragments)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` (for a resumed run)."""
        self.epoch = epoch
        self._order = self._order_for(epoch)

    def __len__(self) -> int:
        return -(-len(self.fragments) // self.batch_size)

    def __getitem__(self, index: int):
        idx = np.sort(self._order[index * self.batch_size : (index + 1) * self.batch_size])
        x = scale(self.fragments[idx])
        return x, x

    def on_epoch_end(self) -> None:
        self.set_epoch(self.epoch + 1)
