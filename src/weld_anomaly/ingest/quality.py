"""Is a radiograph good enough to judge? Its signal-to-noise ratio.

ISO 17636-2 and ASTM E2446 judge a digital radiograph by its normalised signal-to-noise
ratio: the mean grey value over its standard deviation in sound base metal, scaled to an
88.6 µm aperture (SNR_N = SNR × 88.6 µm / basic spatial resolution; the pixel size stands in
for the resolution here). This is measured on the converted 8-bit image, over the whole
radiograph: the noise is the robust standard deviation of the image minus its 15-px local
mean (weld profile and ripple left out, flaws and markers too few to move a median), the
signal its median grey level. On linear detector data converted with a fixed or header
window it follows the standard's SNR; on digitised film (grey levels follow optical
density) it is a relative measure that still tells a grainy, underexposed film from a good
one. The minimum is the lab's (``convert.min_snr_n``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

APERTURE_UM = 88.6
BOX = 15  # the local mean's window, pixels
ROWS = 4  # every ROWS-th row is measured (the estimate needs far fewer pixels than a film)


def noise_sd(pixels: np.ndarray) -> float:
    """The robust standard deviation of the image minus its ``BOX``-px local mean (white
    noise of sd s gives s)."""
    g = np.asarray(pixels, dtype=np.float32)
    if min(g.shape) < BOX:
        return float("nan")
    residual = (g - ndimage.uniform_filter(g, BOX, mode="reflect"))[::ROWS]
    med = np.median(residual)
    mad = float(np.median(np.abs(residual - med)))
    # the local mean holds 1/BOX² of each pixel's own noise
    return 1.4826 * mad / np.sqrt(1 - 1 / BOX**2)


def snr(pixels: np.ndarray) -> float:
    """The median grey level over the noise (``nan`` when the image has no noise to see)."""
    sd = noise_sd(pixels)
    return float(np.median(pixels) / sd) if sd > 0 else float("nan")


def normalised_snr(measured: float, pixel_size_mm: float | None) -> float | None:
    """SNR_N: the measured SNR scaled to an 88.6 µm aperture (None without a pixel size)."""
    if pixel_size_mm is None or not np.isfinite(measured):
        return None
    return float(measured * APERTURE_UM / (1000.0 * pixel_size_mm))
