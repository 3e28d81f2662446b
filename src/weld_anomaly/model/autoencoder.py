"""The convolutional autoencoder (Keras 3, backend-neutral).

The thesis architecture: an encoder of three Conv2D layers (32, 64, 128 filters, 3×3, same
padding, ReLU), each followed by 2×2 max-pooling, and a decoder of three Conv2DTranspose
layers (128, 64, 32) each followed by 2× up-sampling, then a final Conv2DTranspose to one
channel with a sigmoid. Trained with Adam on the mean squared error between a fragment
(scaled to [0, 1]) and its reconstruction. 332,801 parameters for 64×64 fragments.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

ARCHITECTURES = ("thesis",)


def build_autoencoder(
    size: int = 64,
    filters: Sequence[int] = (32, 64, 128),
    kernel: int = 3,
    architecture: str = "thesis",
) -> keras.Model:
    """Build the (uncompiled) autoencoder for ``size`` × ``size`` single-channel fragments."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; use one of {ARCHITECTURES}")
    depth = len(filters)
    if size % (2**depth):
        raise ValueError(f"fragment size {size} is not divisible by 2**{depth} (pooling steps)")
    inputs = keras.Input((size, size, 1), name="fragment")
    x = inputs
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, kernel, padding="same", activation="relu", name=f"encode_{i + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"pool_{i + 1}")(x)
    for i, f in enumerate(reversed(filters)):
        x = layers.Conv2DTranspose(
            f, kernel, padding="same", activation="relu", name=f"decode_{i + 1}"
        )(x)
        x = layers.UpSampling2D(2, name=f"upsample_{i + 1}")(x)
    # float32 output so reconstruction errors are computed in full precision
    outputs = layers.Conv2DTranspose(
        1, kernel, padding="same", activation="sigmoid", dtype="float32", name="reconstruction"
    )(x)
    return keras.Model(inputs, outputs, name=f"autoencoder_{architecture}")


def compile_autoencoder(model: keras.Model, learning_rate: float) -> keras.Model:
    """Compile with Adam and the mean squared error (the thesis's loss)."""
    # an explicit optimizer name keeps saved weights byte-identical within one process too
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate, name="adam"), loss="mse"
    )
    return model
