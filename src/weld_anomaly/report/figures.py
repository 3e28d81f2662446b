"""Pictures for operators: crop previews, marked crops, scatter plots, curves.

Raster overlays are drawn with Pillow on the image's own pixels (exact, fast); plots use
Matplotlib's non-interactive Agg backend. PNGs are written without timestamps.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from weld_anomaly.ingest.previews import fit_width, png_bytes, to_rgb8

SEVERITY_COLOURS = {"likely": (230, 30, 30), "possible": (245, 200, 0), "none": (40, 170, 60)}
FLAG_COLOUR = (255, 0, 255)
MASK_COLOUR = (70, 110, 230)  # tint of the pixels left out of the scores (bright markers)
# masked regions smaller than this (px) are not tinted: isolated bright specks, whose grown
# masks would dot a crop with small diamonds and hide nothing an operator needs to know
MASK_MIN_AREA = 400


def score_colour(fraction: float) -> tuple[int, int, int]:
    """Yellow (just above the threshold) to red (the highest score of the crop)."""
    f = float(np.clip(fraction, 0.0, 1.0))
    return (255, int(round(230 * (1 - f))), 0)


def marked_crop(
    crop_pixels: np.ndarray,
    crop_y: int,
    crop_x: int,
    flagged: np.ndarray,
    size: int,
    defects: Sequence = (),
    max_width: int = 1600,
    strength: np.ndarray | None = None,
    masked: np.ndarray | None = None,
    outlines: Sequence[tuple[str, Sequence[Sequence[float]], str]] = (),
) -> bytes:
    """A crop with its flagged fragments outlined and the annotated defects boxed.

    ``outlines``: findings to draw instead of fragments, each ``(label, polygon in image
    coordinates, confidence)``, coloured by confidence and numbered.

    ``flagged`` holds the top-left corners ``(y, x)`` of flagged fragments in image
    coordinates; ``strength`` (0 to 1, optional) colours them from yellow to red, else they
    are magenta. ``defects`` are annotations (image coordinates) with a ``severity``, drawn
    as thin boxes: red for likely, amber for possible. ``masked`` (boolean, the crop's
    shape) tints the pixels the scores left out (bright markers) blue.
    """
    image = to_rgb8(crop_pixels)
    if masked is not None and masked.any():
        masked = _large_regions(masked, MASK_MIN_AREA)
    if masked is not None and masked.any():
        rgb = np.asarray(image, dtype=np.float32)
        rgb[masked] = 0.6 * rgb[masked] + 0.4 * np.array(MASK_COLOUR, dtype=np.float32)
        image = Image.fromarray(rgb.round().astype(np.uint8), mode="RGB")
    image, f = fit_width(image, max_width)
    draw = ImageDraw.Draw(image)
    order = np.argsort(strength) if strength is not None else range(len(flagged))
    for i in order:
        y, x = flagged[i]
        y0, x0 = (y - crop_y) * f, (x - crop_x) * f
        colour = score_colour(strength[i]) if strength is not None else FLAG_COLOUR
        draw.rectangle([x0, y0, x0 + size * f - 1, y0 + size * f - 1], outline=colour, width=2)
    for label, polygon, confidence in outlines:
        points = [((x - crop_x) * f, (y - crop_y) * f) for x, y in polygon]
        colour = CONFIDENCE_COLOURS.get(confidence, FLAG_COLOUR)
        draw.polygon(points, outline=colour, width=2)
        left, top = min(p[0] for p in points), min(p[1] for p in points)
        draw.text((left + 2, max(top - 11, 0)), label, fill=colour)
    for d in defects:
        x0, y0 = (d.x - crop_x) * f - 2, (d.y - crop_y) * f - 2
        x1, y1 = (d.x + d.width - crop_x) * f + 1, (d.y + d.height - crop_y) * f + 1
        colour = SEVERITY_COLOURS[d.severity] if strength is None else DEFECT_BOX[d.severity]
        draw.rectangle([x0, y0, x1, y1], outline=colour, width=1)
    return png_bytes(image)


def _large_regions(mask: np.ndarray, min_area: int) -> np.ndarray:
    """``mask`` without its connected regions smaller than ``min_area`` pixels."""
    from scipy import ndimage

    labels, n = ndimage.label(mask)
    if not n:
        return mask
    areas = np.bincount(labels.ravel())
    keep = areas >= min_area
    keep[0] = False
    return keep[labels]


DEFECT_BOX = {"likely": (0, 220, 255), "possible": (120, 255, 120)}
# findings by confidence (score.findings): red high, orange medium, yellow low
CONFIDENCE_COLOURS = {"high": (255, 40, 40), "medium": (255, 150, 0), "low": (255, 230, 0)}


def zoom_tiles(fragment: np.ndarray, reconstruction: np.ndarray, scale: int = 2) -> bytes:
    """Fragment | reconstruction | difference (reconstruction - fragment, red = darker than
    expected, blue = brighter), side by side, enlarged ``scale`` times."""
    top = 255.0 if fragment.dtype == np.uint8 else 65535.0
    a = fragment.astype(np.float32) / top
    b = reconstruction.astype(np.float32) / top
    d = np.clip((b - a) / 0.15, -1, 1)
    heat = np.zeros((*d.shape, 3), np.uint8)
    heat[..., 0] = np.rint(255 * np.clip(d, 0, 1))
    heat[..., 2] = np.rint(255 * np.clip(-d, 0, 1))
    grey = [np.repeat(np.rint(v * 255).astype(np.uint8)[..., None], 3, axis=2) for v in (a, b)]
    gap = np.full((d.shape[0], 3, 3), 255, np.uint8)
    row = np.concatenate([grey[0], gap, grey[1], gap, heat], axis=1)
    image = Image.fromarray(row).resize((row.shape[1] * scale, row.shape[0] * scale), Image.NEAREST)
    return png_bytes(image)


def histograms(attrs: dict) -> bytes:
    """Modality values before conversion (with the window) and grey levels after."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(5.6, 1.7), layout="constrained")
    edges = np.asarray(attrs["histogram_modality_edges"])
    ax1.stairs(attrs["histogram_modality_counts"], edges, fill=True, color="#7a8ca3")
    for v in (attrs["window_lo"], attrs["window_hi"]):
        ax1.axvline(v, color="#d62728", lw=1)
    ax1.set_title("before: modality values, window", fontsize=7)
    after = np.asarray(attrs["histogram_output_counts"])
    ax2.stairs(after, np.linspace(0, 1, len(after) + 1), fill=True, color="#4c72b0")
    ax2.set_title(f"after: {attrs['bit_depth']}-bit grey levels", fontsize=7)
    for ax in (ax1, ax2):
        ax.tick_params(labelsize=6)
        ax.set_yticks([])
    return _figure_png(fig, dpi=90)


def thumbnail(png_path: str | Path, max_width: int = 800) -> bytes:
    """A PNG file scaled down to ``max_width`` pixels."""
    with Image.open(png_path) as im:
        image, _ = fit_width(im.convert("RGB"), max_width)
        return png_bytes(image)


def stack_pngs(pngs: Sequence[bytes], gap: int = 6) -> bytes:
    """Several PNG images stacked vertically into one."""
    images = [Image.open(io.BytesIO(p)).convert("RGB") for p in pngs]
    width = max(i.width for i in images)
    out = Image.new(
        "RGB", (width, sum(i.height for i in images) + gap * (len(images) - 1)), (255, 255, 255)
    )
    y = 0
    for image in images:
        out.paste(image, (0, y))
        y += image.height + gap
    return png_bytes(out)


def _figure_png(fig, dpi: int = 110) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buffer.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def loss_curve(history_csv: str | Path) -> bytes:
    """Training and validation loss per epoch."""
    import pandas as pd

    plt = _pyplot()
    history = pd.read_csv(history_csv)
    fig, ax = plt.subplots(figsize=(6, 3.4), layout="constrained")
    epochs = history["epoch"] + 1
    ax.plot(epochs, history["loss"], "o-", label="training loss")
    if "val_loss" in history:
        ax.plot(epochs, history["val_loss"], "s-", label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean squared error")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    return _figure_png(fig)


def scatter_statistics(table, scorers: Sequence[str], thresholds: dict[str, float]) -> bytes:
    """Thesis-style scatter plots: fragment index against each statistic, coloured by label.

    Green = no defect, yellow = possible, red = likely; the calibrated threshold is drawn.
    """
    plt = _pyplot()
    n = len(scorers)
    cols = 5
    rows = -(-n // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.1 * cols, 2.4 * rows), layout="constrained", squeeze=False
    )
    index = np.arange(len(table))
    order = {"none": 0, "ambiguous": 0, "unknown": 0, "possible": 1, "likely": 2}
    draw_order = np.argsort(table["label"].map(order).to_numpy(), kind="stable")
    colours = np.array(
        [np.array(SEVERITY_COLOURS.get(lbl, (150, 150, 150))) / 255.0 for lbl in table["label"]]
    )
    for ax, scorer in zip(axes.ravel(), scorers, strict=False):
        values = table[scorer].to_numpy()
        ax.scatter(index[draw_order], values[draw_order], s=3, c=colours[draw_order], linewidths=0)
        if scorer in thresholds and thresholds[scorer] is not None:
            ax.axhline(thresholds[scorer], color="black", lw=0.8, ls="--")
        ax.set_title(scorer, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.supxlabel("fragment index (test images, in order)", fontsize=9)
    return _figure_png(fig)


def roc_curves(curves: dict[str, tuple[np.ndarray, np.ndarray, float]]) -> bytes:
    """ROC curves of a few scorers: name -> (fpr, tpr, auroc)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 4.2), layout="constrained")
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, label=f"{name} (AUROC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.7, ls=":")
    if not curves:
        ax.text(0.5, 0.5, "no annotations: nothing to measure", ha="center", va="center")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    if curves:
        ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return _figure_png(fig)


def pod_curves(fits: dict[str, dict]) -> bytes:
    """Probability of detection against defect size (log axis), each scorer's fitted curve
    with its 95 % lower bound, a90/95 marked (:mod:`weld_anomaly.score.pod`)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 4.2), layout="constrained")
    unit = "px"
    for (name, fit), colour in zip(fits.items(), ("C0", "C2", "C1"), strict=False):
        curve = fit.get("curve")
        unit = fit.get("unit", unit)
        if not curve:
            continue
        ax.plot(curve["size"], curve["pod"], color=colour, label=f"{name}")
        ax.plot(curve["size"], curve["lower_95"], color=colour, ls="--", lw=0.9,
                label=f"{name}, 95 % lower bound")  # fmt: skip
        if fit.get("a90_95"):
            ax.axvline(fit["a90_95"], color=colour, lw=0.7, ls=":")
    ax.axhline(0.9, color="grey", lw=0.7, ls=":")
    if not any(f.get("curve") for f in fits.values()):
        ax.text(0.5, 0.5, "no POD curve (see the table)", ha="center", va="center",
                transform=ax.transAxes)  # fmt: skip
    else:
        ax.set_xscale("log")
        ax.legend(fontsize=7, loc="lower right")
    ax.set_xlabel(f"defect size, longest extent ({unit})")
    ax.set_ylabel("probability of detection")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    return _figure_png(fig)


def precision_recall_curves(curves: dict[str, tuple[np.ndarray, np.ndarray, float]]) -> bytes:
    """Precision-recall curves: name -> (recall, precision, average precision)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 4.2), layout="constrained")
    for name, (recall, precision, ap) in curves.items():
        ax.step(recall, precision, where="post", label=f"{name} (AP {ap:.3f})")
    if not curves:
        ax.text(0.5, 0.5, "no annotations: nothing to measure", ha="center", va="center")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    if curves:
        ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    return _figure_png(fig)


def _example_axes(fig, spec, examples: Sequence[dict], score_name: str) -> None:
    """Rows of input | reconstruction | difference, labelled with their class and score."""
    grid = spec.subgridspec(len(examples), 3, wspace=0.05, hspace=0.25)
    diffs = [np.abs(np.asarray(e["recon"], dtype=np.float64) - e["input"]) for e in examples]
    top = max(max((float(d.max()) for d in diffs), default=0.0), 1e-6)  # one scale for all
    for row, (example, diff) in enumerate(zip(examples, diffs, strict=True)):
        images = (example["input"], example["recon"], diff)
        for col, (image, title) in enumerate(
            zip(images, ("input", "reconstruction", f"|difference| (0-{top:.2f})"), strict=True)
        ):
            ax = fig.add_subplot(grid[row, col])
            ax.imshow(
                image, cmap="magma" if col == 2 else "gray", vmin=0, vmax=top if col == 2 else 1
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(title, fontsize=8)
            if col == 0:
                ax.set_ylabel(
                    f"{example['label']}\n{score_name} {example['score']:.3g}",
                    fontsize=7,
                    rotation=0,
                    ha="right",
                    va="center",
                )


def experiment_figure(
    title: str,
    examples: Sequence[dict],
    scores: dict[str, np.ndarray],
    *,
    grid: Sequence[dict] | None = None,
    score_name: str = "mse",
) -> bytes:
    """An experiment at a glance: examples (input, reconstruction, difference), the
    distribution of the error for the normal and the faulty test images, and for a grid of
    models their AUROC."""
    plt = _pyplot()
    extra = 2 if grid else 1
    fig = plt.figure(
        figsize=(4.8 + 3.4 * extra, max(0.95 * len(examples), 3.4)), layout="constrained"
    )
    spec = fig.add_gridspec(1, 1 + extra, width_ratios=[1.3] + [1] * extra)
    fig.suptitle(title, fontsize=10)
    _example_axes(fig, spec[0, 0], examples, score_name)
    ax = fig.add_subplot(spec[0, 1])
    both = np.r_[scores["normal"], scores["faulty"]]
    bins = np.linspace(both.min(), both.max(), 40) if both.max() > both.min() else 10
    ax.hist(scores["normal"], bins=bins, alpha=0.6, color="tab:green", label="normal")
    ax.hist(scores["faulty"], bins=bins, alpha=0.6, color="tab:red", label="faulty")
    ax.set_xlabel(score_name, fontsize=8)
    ax.set_ylabel("test images", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    if grid:
        ax = fig.add_subplot(spec[0, 2])
        labels = [f"{c['size']} px\n{c['depth']} pair{'s' if c['depth'] > 1 else ''}" for c in grid]
        values = [c["auroc"][score_name] for c in grid]
        ax.bar(range(len(grid)), values, color="tab:blue")
        for i, v in enumerate(values):
            ax.text(i, v, f"{v:.3f}", ha="center", va="bottom", fontsize=6)
        ax.set_xticks(range(len(grid)), labels, fontsize=6)
        ax.set_ylim(min(0.5, min(values) - 0.05), 1.04)
        ax.set_ylabel(f"AUROC ({score_name})", fontsize=8)
        ax.tick_params(labelsize=7)
    return _figure_png(fig)


def _epoch_panel(ax, epochs, series: dict, ylabel: str, log: bool = False) -> None:
    """Curves over epochs: ``series`` maps a label to (values, colour or None)."""
    from matplotlib.ticker import MaxNLocator

    for label, (values, colour) in series.items():
        ax.plot(epochs, values, "o-", ms=3, color=colour, label=label)
    if log:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch", fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def training_length_figure(
    title: str, epochs: Sequence[dict], examples: Sequence[dict], scorers: Sequence[str]
) -> bytes:
    """AUROC and reconstruction error per epoch, and a defect fragment at the marked epochs."""
    plt = _pyplot()
    fig = plt.figure(figsize=(12, max(0.95 * len(examples), 3.6)), layout="constrained")
    spec = fig.add_gridspec(1, 3, width_ratios=[1.3, 1, 1])
    fig.suptitle(title, fontsize=10)
    _example_axes(fig, spec[0, 0], examples, "mse")
    x = [e["epoch"] for e in epochs]
    _epoch_panel(
        fig.add_subplot(spec[0, 1]),
        x,
        {s: ([e["auroc"][s] for e in epochs], None) for s in scorers},
        "AUROC, likely vs none",
    )
    _epoch_panel(
        fig.add_subplot(spec[0, 2]),
        x,
        {
            "defect fragments": ([e["error_defect"] for e in epochs], "tab:red"),
            "fragments without defects": ([e["error_normal"] for e in epochs], "tab:green"),
        },
        "mean squared error",
        log=True,
    )
    return _figure_png(fig)
