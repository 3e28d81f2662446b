"""The weld's own texture in the residual map: a learned predictor of it, and line filters.

After a CPU budget of training the autoencoder reconstructs a smooth version of the weld:
the bead's ripples stay in the residual (reconstruction - image), as strong as a faint
cavity. Ripples are predictable from their surroundings, a cavity is not. The *texture
predictor* is a linear blind-spot predictor: every residual pixel is predicted by a
least-squares weighted sum of the residual at offsets around it (Chebyshev distance
``hole`` to ``radius``, every ``step`` pixels), fitted on the residuals of the training
images (sound welds only). The *innovation*, residual minus prediction, keeps what the
surroundings do not explain: a cavity smaller than the hole is not seen by its own
prediction. The predictor is a convolution kernel; where the residual is white noise its
weights are close to zero and the innovation is the residual, so a texture it never saw
costs nothing.

Line filters: cracks, lack of fusion and elongated slag are thin lines at any angle, which
an isotropic Gaussian spreads out. An elongated Gaussian (``length`` pixels along, 1 across)
at 12 orientations, the largest response taken, is their matched filter.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from weld_anomaly.errors import UserError
from weld_anomaly.files import write_text
from weld_anomaly.threads import job_threads

ORIENTATIONS = 12
LINE_WIDTH = 1.0  # pixels: the Gaussian width across a line filter


@dataclass(frozen=True)
class PredictorSettings:
    """Where the predictor looks and how it is fitted (``score.texture_predictor``)."""

    hole: int = 8
    radius: int = 20
    step: int = 2
    smooth: float = 2.0  # Gaussian width the residuals are smoothed by for the fit only
    samples: int = 60000  # pixels drawn for the least-squares fit
    seed: int = 0
    images: int = 20  # training images it is fitted on, at most (evenly chosen)

    @classmethod
    def from_config(cls, group: dict | None) -> PredictorSettings | None:
        if group is None:
            return None
        settings = cls(**group)
        if not 1 <= settings.hole <= settings.radius:
            raise UserError(
                f"texture_predictor.hole {settings.hole} must be between 1 and the radius "
                f"{settings.radius}",
                where="config score.texture_predictor",
                fix="set hole smaller than radius (e.g. hole 8, radius 20)",
            )
        return settings


def offsets(settings: PredictorSettings) -> list[tuple[int, int]]:
    """The ``(dy, dx)`` the predictor reads: on the grid of ``step``, outside the hole."""
    r, s = settings.radius, settings.step
    return [
        (dy, dx)
        for dy in range(-r, r + 1, s)
        for dx in range(-r, r + 1, s)
        if max(abs(dy), abs(dx)) >= settings.hole
    ]


@dataclass
class Predictor:
    """A fitted texture predictor: its kernel and how much of the texture it explains."""

    kernel: np.ndarray  # (2 radius + 1, 2 radius + 1), weights at the offsets, 0 elsewhere
    explained_variance: float  # on the (smoothed) training residuals it was fitted on
    pixels: int
    settings: PredictorSettings

    def save(self, path: str | Path) -> None:
        """Write as JSON (byte-stable: shortest round-trip floats)."""
        r = self.settings.radius
        weights = [float(self.kernel[r + dy, r + dx]) for dy, dx in offsets(self.settings)]
        doc = {
            "kind": "texture predictor",
            "settings": asdict(self.settings),
            "explained_variance": float(self.explained_variance),
            "pixels": int(self.pixels),
            "weights": weights,
        }
        write_text(path, json.dumps(doc, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Predictor:
        path = Path(path)
        try:
            doc = json.loads(path.read_text())
            settings = PredictorSettings(**doc["settings"])
            kernel = np.zeros((2 * settings.radius + 1,) * 2)
            places = offsets(settings)
            if len(doc["weights"]) != len(places):
                raise ValueError(f"{len(doc['weights'])} weights for {len(places)} offsets")
            for (dy, dx), w in zip(places, doc["weights"], strict=True):
                kernel[settings.radius + dy, settings.radius + dx] = float(w)
        except FileNotFoundError:
            raise UserError(
                "texture predictor not found",
                where=str(path),
                fix="run the workflow first (snakemake) to train the model and fit it",
            ) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(
                f"texture predictor unreadable ({exc})",
                where=str(path),
                fix="delete it and run the workflow again to refit it",
            ) from None
        return cls(kernel, float(doc["explained_variance"]), int(doc["pixels"]), settings)


def fit_predictor(
    residuals: Iterable[tuple[np.ndarray, np.ndarray]], settings: PredictorSettings
) -> Predictor:
    """Least-squares weights from ``(residual, masked)`` maps of sound welds.

    Masked pixels (markers) count as 0 and no fitted pixel has one within ``radius``.
    Pixels are drawn evenly from every map (seeded), at least ``radius`` from its border.
    """
    from scipy import ndimage

    maps = list(residuals)
    places = offsets(settings)
    r = settings.radius
    per_map = max(settings.samples // max(len(maps), 1), 1)
    rng = np.random.default_rng(settings.seed)
    rows, targets = [], []
    for residual, masked in maps:
        smooth = ndimage.gaussian_filter(residual.astype(np.float64), settings.smooth)
        smooth[masked] = 0.0
        usable = np.ones(residual.shape, dtype=bool)
        if masked.any():
            usable &= ~ndimage.binary_dilation(masked, iterations=r)
        usable[:r], usable[-r:], usable[:, :r], usable[:, -r:] = False, False, False, False
        candidates = np.flatnonzero(usable)
        if len(candidates) == 0:
            continue
        picked = np.sort(rng.choice(candidates, size=min(per_map, len(candidates)), replace=False))
        py, px = np.unravel_index(picked, residual.shape)
        rows.append(np.stack([smooth[py + dy, px + dx] for dy, dx in places], axis=1))
        targets.append(smooth[py, px])
    if not rows:
        raise UserError(
            f"no training crop is larger than {2 * r + 1} px across, the texture predictor's reach",
            where="config score.texture_predictor.radius",
            fix="lower the radius (and hole), use larger crops, or set texture_predictor to null",
        )
    x, y = np.concatenate(rows), np.concatenate(targets)
    gram = x.T @ x
    gram += 1e-3 * np.trace(gram) / len(gram) * np.eye(len(gram))  # a touch of ridge
    weights = np.linalg.solve(gram, x.T @ y)
    kernel = np.zeros((2 * r + 1, 2 * r + 1))
    for (dy, dx), w in zip(places, weights, strict=True):
        kernel[r + dy, r + dx] = w
    explained = 1.0 - float(np.var(y - x @ weights)) / max(float(np.var(y)), 1e-30)
    return Predictor(kernel, explained, len(y), settings)


def innovation(residual: np.ndarray, masked: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The residual minus its prediction from the surroundings (masked pixels read as 0).

    In the residual's precision (float32 from :func:`~weld_anomaly.score.residual.residual_map`:
    the FFT's rounding, ~1e-7 of the values, is far below the reconstructions' own)."""
    return residual - prediction(residual, masked, kernel)


def prediction(residual: np.ndarray, masked: np.ndarray | None, kernel: np.ndarray) -> np.ndarray:
    """Each pixel of the residual predicted from its surroundings by the predictor's
    ``kernel`` (``masked`` pixels read as 0; None: none masked, the same numbers as an
    empty mask's)."""
    dtype = np.float32 if residual.dtype == np.float32 else np.float64
    source = residual if masked is None else np.where(masked, 0, residual)
    (out,) = filtered(source.astype(dtype, copy=False), [kernel[::-1, ::-1]], dtype)
    return out


def fft_workers() -> int:
    """The FFTs' threads: the job's thread budget (:func:`weld_anomaly.threads.job_threads`)."""
    return job_threads()


class Spectrum:
    """An image's spectrum, mirrored at its border, to filter the image by FFT several times.

    The border is mirrored by ``reach`` pixels (``symmetric``, like ``scipy.ndimage``'s
    ``reflect``): filters up to ``2 * reach + 1`` pixels across give what a direct
    convolution gives, each at the cost of one product and one inverse transform.
    ``dtype`` float32 halves the FFTs' time and memory (errors ~1e-7 of the values).
    """

    def __init__(self, image: np.ndarray, reach: int, dtype=np.float64):
        from scipy import fft

        self.reach, self.dtype, self.size = int(reach), dtype, image.shape
        padded = np.pad(image.astype(dtype, copy=False), self.reach, mode="symmetric")
        self.shape = [fft.next_fast_len(n, real=True) for n in padded.shape]
        self.workers = fft_workers()
        self.spectrum = fft.rfft2(padded, self.shape, workers=self.workers)

    def convolve(self, kernel: np.ndarray) -> np.ndarray:
        """The image convolved with a square, odd-sized ``kernel`` (at most the reach)."""
        from scipy import fft

        # rfft2 of the zero-padded kernel, its rows transformed only where it has any
        rows = fft.rfft(kernel.astype(self.dtype), self.shape[1], axis=1, workers=self.workers)
        product = fft.fft(rows, self.shape[0], axis=0, workers=self.workers)
        product *= self.spectrum
        return self._back(product, kernel.shape[0] // 2)

    def gaussian(self, sigma: float) -> np.ndarray:
        """``scipy.ndimage.gaussian_filter(image, sigma)`` (mirrored border, 4 sigma): a
        separable kernel, so its spectrum is the outer product of two 1-D spectra."""
        from scipy import fft

        radius = gaussian_radius(sigma)
        x = np.arange(-radius, radius + 1, dtype=np.float64)
        kernel = np.exp(-0.5 * (x / sigma) ** 2)
        kernel = (kernel / kernel.sum()).astype(self.dtype)
        product = self.spectrum * fft.fft(kernel, self.shape[0])[:, None]
        product *= fft.rfft(kernel, self.shape[1])[None, :]
        return self._back(product, radius)

    def _back(self, product: np.ndarray, k: int) -> np.ndarray:
        from scipy import fft

        if k > self.reach:
            raise ValueError(f"a filter {2 * k + 1} px across needs a reach of {k}")
        full = fft.irfft2(product, self.shape, workers=self.workers, overwrite_x=True)
        # the kernel's centre sits k pixels in: output pixel (y, x) is full[y + reach + k, ...]
        (height, width), start = self.size, self.reach + k
        return full[start : start + height, start : start + width]


def gaussian_radius(sigma: float) -> int:
    """The reach of ``scipy.ndimage.gaussian_filter``'s kernel (truncated at 4 sigma)."""
    return int(4.0 * float(sigma) + 0.5)


def filtered(image: np.ndarray, kernels: list[np.ndarray], dtype=np.float64):
    """``image`` convolved with each of the square, odd-sized ``kernels``, one at a time.

    Through the FFT with the image's spectrum computed once (:class:`Spectrum`); the border
    mirrored; each result has the image's shape.
    """
    spectrum = Spectrum(image, max(k.shape[0] for k in kernels) // 2, dtype)
    for kernel in kernels:
        yield spectrum.convolve(kernel)


def line_kernel(angle_deg: float, length: float, width: float = LINE_WIDTH) -> np.ndarray:
    """A normalised elongated Gaussian: ``length`` along ``angle_deg``, ``width`` across."""
    half = int(np.ceil(3 * length))
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    a = np.deg2rad(angle_deg)
    along = xx * np.cos(a) + yy * np.sin(a)
    across = -xx * np.sin(a) + yy * np.cos(a)
    k = np.exp(-(along**2) / (2 * length**2) - across**2 / (2 * width**2))
    return k / k.sum()


def line_response(image: np.ndarray, length: float) -> np.ndarray:
    """The largest response of the line filters of ``length`` over 12 orientations."""
    angles = np.arange(ORIENTATIONS) * (180.0 / ORIENTATIONS)
    best = None
    kernels = [line_kernel(a, length) for a in angles]
    for response in filtered(image, kernels, np.float32):  # a score: 1e-7 does not matter
        best = response if best is None else np.maximum(best, response)
    return best
