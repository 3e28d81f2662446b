"""The thesis's model experiments, reproduced with numbers.

Before trusting the autoencoder on welds, the thesis checked by eye that it learns at all.
Each experiment here trains the project's autoencoder (:mod:`weld_anomaly.model.autoencoder`, the
thesis architecture with a configurable number of conv+pool pairs) on "non-faulty" images
only, reconstructs held-out non-faulty and "faulty" images, and measures how well the
reconstruction error separates them (AUROC, higher error = faulty), with a figure like the
thesis's (input | reconstruction | difference):

1. ``lines`` - one vertical line at a random column (trained) vs one horizontal line.
2. ``digits`` - real handwritten digits (scikit-learn's copy of the UCI set, 1,797 images of
   8 × 8, upsampled), trained without one class; that class is the "faulty" one.
3. ``shapes`` - small discs (trained) vs larger ones, for every encoder depth (1, 2, 3
   conv+pool pairs) and image size (28, 64, 128 px).
4. ``dirty`` - the same at 64 × 64 under background noise and clutter; AUROC of the summed
   difference (the thesis's Figure 4.10 as a number).
5. ``training_length`` - the demo's autoencoder trained for many epochs with a checkpoint
   per epoch; the AUROC of each checkpoint on the demo's validation fragments, and the
   reconstruction error of the defect fragments, per epoch.

Image sizes the pooling cannot halve ``depth`` times (28 px with 3 pairs) are padded with
background to the next multiple of ``2**depth``; the scores use the original pixels only.
Everything is seeded from the configuration: the same settings give the same numbers on
the CPU.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from weld_anomaly.files import write_bytes, write_text
from weld_anomaly.score import metrics

log = logging.getLogger(__name__)

BACKGROUND = 0.2  # grey level of the synthetic images' background
SYNTHETIC = ("lines", "digits", "shapes", "dirty")
ALL = (*SYNTHETIC, "training_length")

TITLES = {
    "lines": "Generated lines: vertical (trained) vs horizontal",
    "digits": "Handwritten digits: one class held out of training",
    "shapes": "Generated shapes: small discs (trained) vs large ones, by depth and size",
    "dirty": "Dirty images: discs under noise and clutter, 64 × 64",
    "training_length": "Training length: AUROC per epoch on the demo's validation fragments",
}
THESIS = {
    "lines": "horizontal lines are reconstructed badly (the model learnt vertical lines only)",
    "digits": "handwritten digits are reconstructed well",
    "shapes": "three conv+pool pairs at 64 × 64 separate the larger shapes best (the "
    "architecture the thesis chose)",
    "dirty": "the summed difference still separates the larger shapes under noise and "
    "clutter (Figure 4.10)",
    "training_length": "longer training reconstructs the defects better and so detects them worse",
}


# ---------------------------------------------------------------- synthetic images


def lines(n: int, size: int, horizontal: bool, rng: np.random.Generator) -> np.ndarray:
    """``n`` images ``(size, size)`` in [0, 1], each with one line across at a random place.

    Lines are 1 or 2 pixels wide, of intensity 0.6-0.95, on a background of 0.2 (grey, not
    black: a sigmoid output cannot reach 0 exactly, and on black-and-white targets the
    model saturates and learns nothing; measured, see the issue note).
    """
    out = np.full((n, size, size), BACKGROUND, dtype=np.float32)
    for k in range(n):
        width = int(rng.integers(1, 3))
        at = int(rng.integers(1, size - width - 1))
        value = np.float32(rng.uniform(0.6, 0.95))
        if horizontal:
            out[k, at : at + width, :] = value
        else:
            out[k, :, at : at + width] = value
    return out


def discs(
    n: int,
    size: int,
    radius: tuple[float, float],
    rng: np.random.Generator,
    *,
    noise: float = 0.0,
    clutter: int = 0,
) -> np.ndarray:
    """``n`` images with one bright disc whose radius is ``radius`` × ``size`` (a range).

    Anti-aliased edges, intensity 0.7-0.95 on a background of 0.2, fully inside the image.
    ``noise``: the standard deviation of Gaussian pixel noise; ``clutter``: up to that
    many random faint strokes and specks (thin segments and dots of intensity 0.15-0.45),
    drawn in every image alike.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    out = np.full((n, size, size), BACKGROUND, dtype=np.float32)
    for k in range(n):
        image = out[k]
        for _ in range(int(rng.integers(0, clutter + 1)) if clutter else 0):
            if rng.random() < 0.5:  # a thin stroke
                y0, x0 = rng.uniform(0, size, 2)
                angle = rng.uniform(0, np.pi)
                length = rng.uniform(0.1, 0.4) * size
                t = np.linspace(0, length, int(length * 2) + 2)
                py = np.clip((y0 + t * np.sin(angle)).astype(int), 0, size - 1)
                px = np.clip((x0 + t * np.cos(angle)).astype(int), 0, size - 1)
                image[py, px] = np.maximum(image[py, px], rng.uniform(0.15, 0.45))
            else:  # a speck
                cy, cx = rng.uniform(0, size, 2)
                r = rng.uniform(0.5, 0.03 * size + 1.0)
                speck = np.clip(r + 0.5 - np.hypot(yy - cy, xx - cx), 0, 1)
                image[:] = np.maximum(image, speck * rng.uniform(0.15, 0.45))
        r = rng.uniform(*radius) * size
        cy, cx = rng.uniform(r + 1, size - r - 1, 2)
        coverage = np.clip(r + 0.5 - np.hypot(yy - cy, xx - cx), 0, 1)
        value = rng.uniform(0.7, 0.95)
        image[:] = image * (1 - coverage) + value * coverage
        if noise:
            image += rng.normal(0.0, noise, image.shape).astype(np.float32)
    return np.clip(out, 0.0, 1.0)


def digits(size: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's handwritten digits (1,797 real 8 × 8 scans, 0-16) upsampled to
    ``size`` × ``size`` (bilinear), ink mapped to [0.2, 0.95] like the other sets, and
    their classes."""
    from scipy import ndimage
    from sklearn.datasets import load_digits

    data = load_digits()
    images = data.images.astype(np.float32) / 16.0
    zoom = size / images.shape[1]
    out = np.stack(
        [ndimage.zoom(im, zoom, order=1, grid_mode=True, mode="grid-constant") for im in images]
    )
    out = BACKGROUND + (0.95 - BACKGROUND) * np.clip(out, 0.0, 1.0)
    return out.astype(np.float32), data.target.astype(int)


# ---------------------------------------------------------------- models and scores


def padded_size(size: int, depth: int) -> int:
    """The smallest multiple of ``2**depth`` that is at least ``size``."""
    step = 2**depth
    return -(-size // step) * step


def _pad(x: np.ndarray, size: int, value: float) -> np.ndarray:
    extra = size - x.shape[1]
    if extra == 0:
        return x
    lo, hi = extra // 2, extra - extra // 2
    return np.pad(x, ((0, 0), (lo, hi), (lo, hi)), constant_values=value)


def _unpad(x: np.ndarray, size: int) -> np.ndarray:
    extra = x.shape[1] - size
    lo = extra // 2
    return x[:, lo : lo + size, lo : lo + size]


def fit_autoencoder(
    train: np.ndarray,
    filters: Sequence[int],
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    pad_value: float = 0.0,
):
    """Train the autoencoder on images ``(N, S, S)`` in [0, 1]; returns the model."""
    import keras

    from weld_anomaly.model.autoencoder import build_autoencoder, compile_autoencoder

    size = padded_size(train.shape[1], len(filters))
    x = _pad(train, size, pad_value)[..., None]
    keras.utils.set_random_seed(seed)
    model = compile_autoencoder(build_autoencoder(size, tuple(filters)), learning_rate)
    model.fit(x, x, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0)
    return model


def reconstruct(model, images: np.ndarray, pad_value: float = 0.0) -> np.ndarray:
    """Reconstructions of images ``(N, S, S)`` (padded for the model, cut back after)."""
    size = model.input_shape[1]
    out = model.predict(_pad(images, size, pad_value)[..., None], batch_size=256, verbose=0)
    return _unpad(np.asarray(out)[..., 0], images.shape[1]).astype(np.float32)


def errors(images: np.ndarray, recon: np.ndarray) -> dict[str, np.ndarray]:
    """Per image: the mean squared error and the summed absolute difference."""
    d = (recon.astype(np.float64) - images).reshape(len(images), -1)
    return {"mse": np.mean(d * d, axis=1), "diff_abs_sum": np.abs(d).sum(axis=1)}


def separation(normal: dict, faulty: dict) -> dict[str, float]:
    """AUROC of each error (higher = faulty) between the normal and the faulty images."""
    out = {}
    for name in normal:
        y = np.r_[np.zeros(len(normal[name]), bool), np.ones(len(faulty[name]), bool)]
        out[name] = round(metrics.roc_auc(y, np.r_[normal[name], faulty[name]]), 4)
    return out


def _examples(images, recon, scores, n: int, label: str) -> list[dict]:
    return [
        {"label": label, "input": images[i], "recon": recon[i], "score": float(scores[i])}
        for i in range(min(n, len(images)))
    ]


def _two_class(
    train,
    normal,
    faulty,
    filters,
    settings: dict,
    seed: int,
    pad_value: float = 0.0,
    examples: int = 3,
    primary: str = "mse",
) -> dict:
    """Train on ``train``, score ``normal`` and ``faulty``: the numbers and example rows."""
    start = time.perf_counter()
    model = fit_autoencoder(
        train,
        filters,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        learning_rate=settings["learning_rate"],
        seed=seed,
        pad_value=pad_value,
    )
    rn = reconstruct(model, normal, pad_value)
    rf = reconstruct(model, faulty, pad_value)
    en, ef = errors(normal, rn), errors(faulty, rf)
    return {
        "auroc": separation(en, ef),
        "error_normal": round(float(np.mean(en["mse"])), 6),
        "error_faulty": round(float(np.mean(ef["mse"])), 6),
        "parameters": int(model.count_params()),
        "seconds": round(time.perf_counter() - start, 1),
        "examples": _examples(normal, rn, en[primary], examples, "normal")
        + _examples(faulty, rf, ef[primary], examples, "faulty"),
        "scores": {"normal": en[primary], "faulty": ef[primary]},
    }


# ---------------------------------------------------------------- the experiments


def run_lines(settings: dict, filters: Sequence[int], seed: int) -> dict:
    rng = np.random.default_rng(seed)
    size = settings["size"]
    train = lines(settings["n_train"], size, False, rng)
    normal = lines(settings["n_test"], size, False, rng)
    faulty = lines(settings["n_test"], size, True, rng)
    out = _two_class(train, normal, faulty, filters, settings, seed)
    auc = out["auroc"]["mse"]
    out["primary"] = "mse"
    out["agrees"] = bool(auc >= 0.9 and out["error_faulty"] > out["error_normal"])
    out["finding"] = (
        f"horizontal lines: mean squared error {out['error_faulty']:.4f} vs "
        f"{out['error_normal']:.4f} for vertical ones; AUROC {auc:.3f}"
    )
    out["settings"] = {
        **settings,
        "filters": list(filters),
        "model_size": padded_size(size, len(filters)),
    }
    return out


def run_digits(settings: dict, filters: Sequence[int], seed: int) -> dict:
    rng = np.random.default_rng(seed)
    images, classes = digits(settings["size"])
    held = settings["held_out"]
    known = np.nonzero(classes != held)[0]
    known = known[rng.permutation(len(known))]
    n_test = int(round(settings["test_fraction"] * len(known)))
    test_idx, train_idx = np.sort(known[:n_test]), np.sort(known[n_test:])
    faulty = images[classes == held]
    out = _two_class(images[train_idx], images[test_idx], faulty, filters, settings, seed)
    auc = out["auroc"]["mse"]
    out["primary"] = "mse"
    # "reconstructed well": the error on unseen digits of the trained classes is small
    # next to the images' own variance
    variance = float(np.mean(np.var(images[test_idx].reshape(n_test, -1), axis=1)))
    out["relative_error"] = round(out["error_normal"] / variance, 4)
    out["agrees"] = bool(out["relative_error"] < 0.25)
    out["finding"] = (
        f"unseen digits of the trained classes: mean squared error {out['error_normal']:.4f} "
        f"({100 * out['relative_error']:.0f} % of their pixel variance); held-out digit "
        f"{held}: {out['error_faulty']:.4f}, AUROC {auc:.3f}"
    )
    out["settings"] = {
        **settings,
        "filters": list(filters),
        "train_images": len(train_idx),
        "test_images": int(n_test),
        "held_out_images": len(faulty),
    }
    return out


def _disc_sets(settings: dict, size: int, rng, noise: float = 0.0, clutter: int = 0):
    small, large = tuple(settings["small_radius"]), tuple(settings["large_radius"])
    kw = {"noise": noise, "clutter": clutter}
    return (
        discs(settings["n_train"], size, small, rng, **kw),
        discs(settings["n_test"], size, small, rng, **kw),
        discs(settings["n_test"], size, large, rng, **kw),
    )


def shape_cells(settings: dict) -> list[tuple[int, int]]:
    """The (size, depth) pairs trained: every depth at ``base_size`` and every size at
    ``base_depth`` (the thesis's 64 px and 3 pairs), in order of size then depth."""
    cells = {(settings["base_size"], d) for d in settings["depths"]}
    cells |= {(s, settings["base_depth"]) for s in settings["sizes"]}
    return sorted(cells)


def run_shapes(settings: dict, filters: Sequence[int], seed: int) -> dict:
    grid, shown = [], None
    base = (settings["base_size"], settings["base_depth"])
    for size, depth in shape_cells(settings):
        if depth > len(filters):
            raise ValueError(f"depth {depth} needs {depth} entries in model.filters")
        rng = np.random.default_rng([seed, size])
        train, normal, faulty = _disc_sets(settings, size, rng)
        result = _two_class(
            train, normal, faulty, filters[:depth], settings, seed, pad_value=BACKGROUND
        )
        grid.append(
            {
                "size": size,
                "depth": depth,
                "model_size": padded_size(size, depth),
                "auroc": result["auroc"],
                "error_normal": result["error_normal"],
                "error_faulty": result["error_faulty"],
                "error_ratio": round(
                    result["error_faulty"] / max(result["error_normal"], 1e-12), 3
                ),
                "parameters": result["parameters"],
                "seconds": result["seconds"],
            }
        )
        log.info(
            "shapes %d px, %d conv+pool pairs: AUROC %.3f (%.0f s)",
            size,
            depth,
            result["auroc"]["mse"],
            result["seconds"],
        )
        if shown is None or (size, depth) == base:
            shown = result

    def key(cell):  # AUROC first, then how far apart the errors are
        return (cell["auroc"]["mse"], cell["error_ratio"])

    best = max(grid, key=key)
    chosen = next(c for c in grid if (c["size"], c["depth"]) == base)
    by_depth = [c for c in grid if c["size"] == base[0]]
    by_size = [c for c in grid if c["depth"] == base[1]]
    out = {
        "primary": "mse",
        "grid": grid,
        "auroc": chosen["auroc"],
        "best": {"size": best["size"], "depth": best["depth"], "auroc": best["auroc"]},
        "agrees": bool((best["size"], best["depth"]) == base),
        "finding": (
            f"{base[1]} pairs at {base[0]} × {base[0]}: AUROC {chosen['auroc']['mse']:.3f}, "
            f"faulty/normal error {chosen['error_ratio']:.1f}×; by depth at {base[0]} px "
            + ", ".join(f"{c['depth']}: {c['auroc']['mse']:.3f}" for c in by_depth)
            + f"; by size at {base[1]} pairs "
            + ", ".join(f"{c['size']} px: {c['auroc']['mse']:.3f}" for c in by_size)
            + f"; best {best['depth']} pairs at {best['size']} px"
        ),
        "examples": shown["examples"],
        "scores": shown["scores"],
        "settings": {**settings, "filters": list(filters)},
    }
    return out


def run_dirty(settings: dict, filters: Sequence[int], seed: int) -> dict:
    rng = np.random.default_rng(seed)
    size = settings["size"]
    train, normal, faulty = _disc_sets(
        settings, size, rng, noise=settings["noise"], clutter=settings["clutter"]
    )
    out = _two_class(
        train, normal, faulty, filters, settings, seed, pad_value=BACKGROUND, primary="diff_abs_sum"
    )
    auc = out["auroc"]["diff_abs_sum"]
    out["primary"] = "diff_abs_sum"
    out["agrees"] = bool(auc >= 0.9)
    out["finding"] = (
        f"summed absolute difference: AUROC {auc:.3f} (mean squared error "
        f"{out['auroc']['mse']:.3f})"
    )
    out["settings"] = {**settings, "filters": list(filters)}
    return out


RUNNERS = {"lines": run_lines, "digits": run_digits, "shapes": run_shapes, "dirty": run_dirty}


def run_synthetic(
    name: str,
    settings: dict,
    filters: Sequence[int],
    seed: int,
    out_json: str | Path,
    out_png: str | Path,
) -> dict:
    """Run one synthetic experiment; write its numbers (JSON) and its figure (PNG)."""
    from weld_anomaly.report import figures

    start = time.perf_counter()
    result = RUNNERS[name](settings, tuple(filters), seed)
    png = figures.experiment_figure(
        TITLES[name],
        result["examples"],
        result["scores"],
        grid=result.get("grid"),
        score_name=result["primary"],
    )
    write_bytes(out_png, png)
    return _write_result(name, result, start, out_json)


def _write_result(name: str, result: dict, start: float, out_json: str | Path) -> dict:
    summary = {
        "experiment": name,
        "title": TITLES[name],
        "thesis": THESIS[name],
        **{k: v for k, v in result.items() if k not in ("examples", "scores", "figure")},
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_text(out_json, json.dumps(_clean(summary), indent=2) + "\n")
    log.info("%s: %s (%.0f s)", name, summary.get("finding", ""), summary["seconds"])
    return summary


def _clean(value):
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else round(float(value), 6)
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


# ---------------------------------------------------------------- training length (demo)


def _validation_fragments(
    fragments_h5: Sequence[str | Path],
    annotations_path: str | Path | None,
    min_overlap: float,
    max_normal: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """The demo's validation fragments with a ``likely`` defect, and up to ``max_normal``
    without one (drawn at random): ``(fragments, is_defect)``."""
    from weld_anomaly.ingest import hdf5_io
    from weld_anomaly.ingest.manifests import load_annotations
    from weld_anomaly.score.evaluation import label_fragments

    annotations = load_annotations(annotations_path) if annotations_path else {}
    defects, normal = [], []
    for path in fragments_h5:
        frags = hdf5_io.read_fragments(path)
        if not len(frags):
            continue
        image_id = Path(path).name.removesuffix(".h5")
        labels = label_fragments(
            frags.corners, frags.fragments.shape[1], annotations.get(image_id, []), min_overlap
        )
        defects.append(frags.fragments[labels == "likely"])
        normal.append(frags.fragments[labels == "none"])
    defects_x, normal_x = np.concatenate(defects), np.concatenate(normal)
    if len(normal_x) > max_normal:
        normal_x = normal_x[np.sort(rng.choice(len(normal_x), max_normal, replace=False))]
    return (
        np.concatenate([defects_x, normal_x]),
        np.r_[np.ones(len(defects_x), bool), np.zeros(len(normal_x), bool)],
    )


def _checked_marks(settings: dict) -> list[int]:
    from weld_anomaly.errors import UserError

    epochs, marks = settings["epochs"], sorted(settings["marks"])
    if marks[-1] > epochs or marks[0] < 1:
        raise UserError(
            f"experiments.training_length.marks {marks} must lie between 1 and epochs ({epochs})",
            where="config",
            fix="change marks or epochs",
        )
    return marks


def _train_with_checkpoints(sources, work: Path, settings, train_settings, model, rng, resume):
    """Train on random subsets of the training and validation sets; a checkpoint per epoch.

    ``sources``: (train_h5, validation_h5); ``model``: (filters, architecture).
    """
    from weld_anomaly.ingest import hdf5_io
    from weld_anomaly.model.training import train

    subsets = {}
    limits = (settings["max_fragments"], settings["max_validation_fragments"])
    for name, src, limit in zip(("train", "validation"), sources, limits, strict=True):
        total = hdf5_io.fragment_set_size(src)
        keep = np.arange(total)
        if limit and total > limit:
            keep = np.sort(rng.choice(total, limit, replace=False))
        subsets[name] = work / f"{name}.h5"
        hdf5_io.write_fragment_subset(src, subsets[name], keep)
    filters, architecture = model
    info = train(
        subsets["train"],
        subsets["validation"],
        work / "model.keras",
        work / "best.weights.h5",
        work / "history.csv",
        work / "train.json",
        epochs=settings["epochs"],
        batch_size=train_settings["batch_size"],
        learning_rate=train_settings["learning_rate"],
        seed=train_settings["seed"],
        precision=train_settings["precision"],
        architecture=architecture,
        filters=tuple(filters),
        resume_dir=resume or work / ".resume",
        memory_limit_mb=train_settings["memory_limit_mb"],
        workers=train_settings["workers"],
        corruption=train_settings["corruption"],
        blemish_max_radius=train_settings["blemish_max_radius"],
        epoch_weights_dir=work / "checkpoints",
    )
    for name in subsets.values():
        Path(name).unlink()
    return info


def _score_checkpoints(checkpoints: Path, x, is_defect, epochs, marks, statistics, model):
    """Per epoch: the statistics' AUROC and the mean error of each group; marked epochs'
    reconstructions and errors."""
    from weld_anomaly.ingest.tiling import scale
    from weld_anomaly.model.autoencoder import build_autoencoder
    from weld_anomaly.model.training import epoch_weights_name
    from weld_anomaly.score.scoring import reconstruct as reconstruct_fragments
    from weld_anomaly.score.statistics import fragment_statistics

    filters, architecture = model
    net = build_autoencoder(x.shape[1], tuple(filters), architecture=architecture)
    rows, recons = [], {}
    for epoch in range(1, epochs + 1):
        net.load_weights(checkpoints / epoch_weights_name(epoch))
        recon = reconstruct_fragments(net, x, 256)
        stats = fragment_statistics(scale(x)[..., 0], recon)
        rows.append(
            {
                "epoch": epoch,
                "auroc": {s: round(metrics.roc_auc(is_defect, stats[s]), 4) for s in statistics},
                "error_defect": float(np.mean(stats["mse"][is_defect])),
                "error_normal": float(np.mean(stats["mse"][~is_defect])),
            }
        )
        if epoch in marks:
            recons[epoch] = (recon, stats["mse"])
        log.info("epoch %d: AUROC %s", epoch, rows[-1]["auroc"])
    return rows, recons


def _length_examples(x, is_defect, recons, marks) -> list[dict]:
    """The defect fragment the short training shows best, and a normal one, at both lengths."""
    from weld_anomaly.ingest.tiling import scale

    first = recons[marks[0]][1]
    picks = [
        ("defect", int(np.argmax(np.where(is_defect, first, -np.inf)))),
        ("normal", int(np.nonzero(~is_defect)[0][0])),
    ]
    return [
        {
            "label": f"{kind}, epoch {m}",
            "input": scale(x[i : i + 1])[0, ..., 0],
            "recon": recons[m][0][i],
            "score": float(recons[m][1][i]),
        }
        for kind, i in picks
        for m in (marks[0], marks[-1])
    ]


def _length_verdict(rows: list[dict], marks: list[int], primary: str) -> dict:
    """Whether longer training reconstructs defects better and detects them worse."""
    a, b = (rows[m - 1] for m in marks[:1] + marks[-1:])
    better = b["error_defect"] < a["error_defect"]
    worse = b["auroc"][primary] < a["auroc"][primary]
    return {
        "primary": primary,
        "auroc": dict(b["auroc"]),
        "epochs": rows,
        "marks": marks,
        "reconstructs_defects_better": bool(better),
        "detects_worse": bool(worse),
        "agrees": bool(better and worse),
        "finding": (
            f"epoch {marks[0]} vs {marks[-1]}: defect-fragment error "
            f"{a['error_defect']:.5f} -> {b['error_defect']:.5f} "
            f"({'lower' if better else 'not lower'}), normal {a['error_normal']:.5f} -> "
            f"{b['error_normal']:.5f}; AUROC ({primary}) {a['auroc'][primary]:.3f} -> "
            f"{b['auroc'][primary]:.3f}; best epoch by AUROC "
            f"{max(rows, key=lambda r: r['auroc'][primary])['epoch']}"
        ),
    }


def run_training_length(
    train_h5: str | Path,
    validation_h5: str | Path,
    fragments_h5: Sequence[str | Path],
    annotations_path: str | Path | None,
    out_json: str | Path,
    out_png: str | Path,
    work_dir: str | Path,
    *,
    settings: dict,
    train_settings: dict,
    filters: Sequence[int],
    architecture: str,
    min_overlap: float,
    resume_dir: str | Path | None = None,
) -> dict:
    """Experiment 5: one long training run of the demo's autoencoder (the ``train``
    settings, on a random subset of its training fragments when ``max_fragments`` is set),
    a checkpoint per epoch, and per checkpoint the AUROC of the thesis's statistics for the
    validation fragments with a ``likely`` defect against those without, plus the mean
    squared error of each group. ``marks`` are the two training lengths compared."""
    from weld_anomaly.errors import UserError
    from weld_anomaly.report import figures

    start = time.perf_counter()
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(train_settings["seed"])
    marks = _checked_marks(settings)
    model = (filters, architecture)
    info = _train_with_checkpoints(
        (train_h5, validation_h5), work, settings, train_settings, model, rng, resume_dir
    )
    x, is_defect = _validation_fragments(
        fragments_h5, annotations_path, min_overlap, settings["max_normal_fragments"], rng
    )
    if not is_defect.any():
        raise UserError(
            "no validation fragment holds a 'likely' defect: nothing to detect",
            where="the demo's validation images",
            fix="use more faulty images (demo.n_faulty) or data.split.faulty_validation > 0",
        )
    statistics = tuple(settings["statistics"])
    rows, recons = _score_checkpoints(
        work / "checkpoints", x, is_defect, settings["epochs"], marks, statistics, model
    )
    examples = _length_examples(x, is_defect, recons, marks)
    png = figures.training_length_figure(TITLES["training_length"], rows, examples, statistics)
    write_bytes(out_png, png)
    result = {
        **_length_verdict(rows, marks, statistics[0]),
        "steps_per_epoch": -(-info["fragments_train"] // train_settings["batch_size"]),
        "fragments": {
            "train": info["fragments_train"],
            "validation_loss": info["fragments_validation"],
            "scored_defect": int(is_defect.sum()),
            "scored_normal": int((~is_defect).sum()),
        },
        "train_seconds": info["train_seconds"],
        "settings": {**settings, "train": train_settings, "filters": list(filters)},
    }
    return _write_result("training_length", result, start, out_json)


def collect(results_json: Sequence[str | Path], figures_png: Sequence[str | Path]) -> dict:
    """The experiments' numbers, in order, each with the path of its figure."""
    results = []
    for path, png in zip(results_json, figures_png, strict=True):
        result = json.loads(Path(path).read_text())
        result["figure"] = str(png)
        results.append(result)
    return {
        "experiments": results,
        "seconds": round(sum(r.get("seconds", 0) for r in results), 1),
    }


def write_summary(
    results_json: Sequence[str | Path],
    figures_png: Sequence[str | Path],
    out_json: str | Path,
    out_html: str | Path,
) -> dict:
    """Write experiments.json and the report's Experiments section as a page of its own."""
    from weld_anomaly.report.html import render_experiments_page

    summary = collect(results_json, figures_png)
    write_text(out_json, json.dumps(summary, indent=2) + "\n")
    write_text(out_html, render_experiments_page(summary))
    return summary
