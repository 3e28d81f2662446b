"""Suggested crops: the weld found in real DICOM files of the demo, and the crops CLI."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import yaml

from weld_anomaly.ingest.manifests import Box, load_crop_manifest
from weld_anomaly.ingest.suggest import find_weld, iou, suggest, suggest_crops
from weld_anomaly.simulate import demo, films

CLI = [sys.executable, "-m", "weld_anomaly.cli"]


@pytest.fixture(scope="module", params=[21, 22])
def demo_files(request, tmp_path_factory):
    """Demo DICOM files (6 plate-weld films, tilted and curved as real ones) and their truth."""
    out = tmp_path_factory.mktemp("demo")
    settings = demo.DemoSettings(
        films=4,
        pipe_films=0,
        faulty_films=2,
        faulty_crops=0,
        film_size=(512, 1536),
        seed=request.param,
    )
    demo.write_demo(settings, out)
    truth = yaml.safe_load((out / "truth.yaml").read_text())["images"]
    return out, truth


def _covered(radiograph, crops, transpose=False) -> tuple[float, float, float]:
    """IoU with the true weld region, the share of it the crops cover, and the extra."""
    truth = radiograph.weld_region()
    if transpose:
        truth = truth.T
    got = np.zeros_like(truth)
    for c in crops:
        got[c.y : c.y + c.height, c.x : c.x + c.width] = True
    inter = (got & truth).sum()
    return inter / (got | truth).sum(), inter / truth.sum(), (got & ~truth).sum() / truth.sum()


# generated films of every kind and style (films.STYLES): plain films (tilted, arc-shaped),
# wide beads with lettering rows above and below, rough beads; pipe films of four kinds;
# weld crops, with sparse and dense flaws
FILMS = (
    [("film", (1300, 4984), seed, "") for seed in range(4)]
    + [("film", (768, 2560), seed, "") for seed in (0, 1)]
    + [("film", (1300, 4984), seed, style) for style in ("wide", "rough") for seed in range(3)]
)
PIPES = [("pipe", (1300, 4984), seed, style) for style in films.STYLES["pipe"] for seed in (0, 1)]
CROPS = [("crop", (716, 4966), seed, "") for seed in range(2)]


def _answer(kind, size, seed, style, dense=False) -> dict:
    events = 12 if dense else 0
    radiograph = films.render([100 + seed, 7], kind, *size, events, dense=dense, style=style)
    pixels = np.clip(np.rint(radiograph.grey), 0, 255).astype(np.uint8)
    answer = suggest(pixels, "x", fragment_size=64)
    overlap, cover, extra = _covered(radiograph, answer.crops)
    got = np.zeros(pixels.shape, dtype=bool)
    for c in answer.crops:
        got[c.y : c.y + c.height, c.x : c.x + c.width] = True
    outside = got & ~radiograph.weld_region()  # lettering the boxes hold needlessly
    letters = max(
        (outside[y : y + h, x : x + w].mean() for x, y, w, h in radiograph.markers), default=0.0
    )
    case = f"{kind} {style or 'plain'} {size} seed {seed}" + (" dense" if dense else "")
    return dict(
        radiograph=radiograph,
        answer=answer,
        overlap=overlap,
        cover=cover,
        extra=extra,
        letters=letters,
        case=case,
        style=style,
        whole=[(c.name, c.x, c.y, c.width, c.height) for c in answer.crops]
        == [("image", 0, 0, size[1], size[0])],
    )


@pytest.fixture(scope="module")
def answers():
    return {
        "film": [_answer(*case) for case in FILMS],
        "pipe": [_answer(*case) for case in PIPES],
        "crop": [_answer(*case, dense=dense) for case in CROPS for dense in (False, True)],
    }


def test_every_whole_film_is_boxed_on_its_bead_or_warned(answers):
    """The bead covered (>= 95 % of its region, <= 30 % extra), lettering rows beside it left
    out, arcs boxed along; else a WARNING with the whole image: never a wrong INFO answer."""
    for a in answers["film"]:
        answer = a["answer"]
        if not answer.sure:
            assert a["whole"], a["case"]
            continue
        assert a["cover"] >= 0.95 and a["extra"] <= 0.3, (a["case"], a["cover"], a["extra"])
        assert a["letters"] <= 0.25, (a["case"], "lettering inside", a["letters"])
        assert all(c.name.startswith("weld") for c in answer.crops), a["case"]
        if abs(a["radiograph"].sag_px) > 100:
            assert len(answer.crops) > 1, a["case"]  # an arc gets boxes along it
    sure = [a["case"] for a in answers["film"] if a["answer"].sure]
    assert len(sure) >= 0.8 * len(answers["film"]), sure  # warning is not the answer to all
    wide = [a for a in answers["film"] if a["style"] == "wide"]
    assert all(a["answer"].sure for a in wide), [a["answer"].message for a in wide]


def test_pipe_films_get_the_box_of_their_weld_ring_or_a_warning(answers):
    boxed = set()
    for a in answers["pipe"]:
        answer = a["answer"]
        if not answer.sure:
            assert a["whole"], a["case"]
            continue
        x, y, w, h = a["radiograph"].weld_box
        (crop,) = answer.crops
        overlap = iou(Box(crop.x, crop.y, crop.width, crop.height), Box(x, y, w, h))
        assert overlap >= 0.8, (a["case"], overlap, answer.message)
        assert "pipe film" in answer.message
        boxed.add(a["style"])
    assert len(boxed) >= 3, boxed  # at least 3 of the 4 kinds of pipe film


def test_a_weld_crop_is_never_cut_whatever_its_flaws(answers):
    for a in answers["crop"]:
        assert a["whole"], (a["case"], a["answer"].message)
        assert "pipe" not in a["answer"].message


def test_a_vertical_weld_is_found_too():
    radiograph = films.render([101, 7], "film", 1300, 4984, 0)
    pixels = np.clip(np.rint(radiograph.grey), 0, 255).astype(np.uint8).T
    fit = find_weld(pixels)
    assert fit.vertical and fit.sure
    overlap, cover, extra = _covered(radiograph, fit.boxes, transpose=True)
    assert cover >= 0.95 and extra <= 0.3


def test_a_film_without_a_weld_gets_a_not_sure_line(caplog):
    rng = np.random.default_rng(0)
    grey = np.full((1000, 3000), 70.0) + np.linspace(0, 40, 3000)[None, :]  # a gradient
    grey[900:980, 400:1400] += 80 * (rng.random((80, 1000)) > 0.6)  # a row of lettering
    grey += 3 * films.grain(rng, grey.shape)
    pixels = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    with caplog.at_level("WARNING"):
        crops = suggest_crops(pixels, "plate", fragment_size=64)
    assert [c.name for c in crops] == ["image"]
    lines = [r.getMessage() for r in caplog.records if "plate" in r.getMessage()]
    assert len(lines) == 1 and "not sure where the weld is" in lines[0]


def test_no_weld_means_the_whole_image():
    noise = np.random.default_rng(0).normal(100, 3, (200, 300)).astype(np.float32)
    assert find_weld(noise) is None
    (crop,) = suggest_crops(noise, "blank", fragment_size=64)
    assert (crop.name, crop.width, crop.height) == ("image", 300, 200)


def test_cli_suggest_writes_a_valid_manifest_and_previews(demo_files, tmp_path):
    out, truth = demo_files
    files = sorted(str(p) for p in (out / "images").glob("*.dcm"))
    done = subprocess.run(
        [*CLI, "crops", "suggest", *files, "-o", str(tmp_path / "crops.yaml")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    manifest = load_crop_manifest(tmp_path / "crops.yaml", 64)
    assert set(manifest) == set(truth)
    assert all(
        (tmp_path / "crops_previews" / f"{i}.png").read_bytes()[:4] == b"\x89PNG" for i in truth
    )
    # the draft passes `crops preview`, which checks it against the images
    done = subprocess.run(
        [*CLI, "crops", "preview", str(tmp_path / "crops.yaml"), *files, "-o", str(tmp_path / "p")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "p").glob("*.png"))) == len(truth)


def test_suggest_previews_show_the_confidence_the_defects_and_the_lost_ones(demo_files, tmp_path):
    from PIL import Image

    from weld_anomaly.ingest import previews

    out, truth = demo_files
    files = sorted(str(p) for p in (out / "images").glob("*.dcm"))
    run = [*CLI, "crops", "suggest", *files, "-o", str(tmp_path / "c.yaml")]
    assert subprocess.run(run, capture_output=True).returncode == 0

    def covered(crops) -> np.ndarray:
        mask = np.zeros((512, 1536), dtype=bool)
        for c in crops:
            mask[c.y : c.y + c.height, c.x : c.x + c.width] = True
        return mask

    manifest = load_crop_manifest(tmp_path / "c.yaml", 64)
    image_id = next(i for i in sorted(manifest) if not covered(manifest[i]).all())
    covered = covered(manifest[image_id])
    y, x = np.argwhere(~covered)[0]  # a defect where the suggested crops do not reach
    (tmp_path / "ann.yaml").write_text(
        f"images:\n  {image_id}:\n    - {{x: {x}, y: {y}, width: 4, height: 4}}\n"
    )
    done = subprocess.run(
        run + ["--annotations", str(tmp_path / "ann.yaml")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "confidence" in done.stderr and "lie outside every crop" in done.stderr
    png = Image.open(tmp_path / "c_previews" / f"{image_id}.png").convert("RGB")
    pixels = np.asarray(png)
    assert png.height > 512  # a header above the image: the text is not drawn over it
    header = pixels[: png.height - 512]
    assert (header == previews.WARN).all(axis=-1).any()  # the lost defect's line, in orange
    assert (pixels[png.height - 512 :] == previews.LOST).all(axis=-1).any()  # outlined in red


@pytest.mark.parametrize(
    "entry,words",
    [
        ("weld_001: [{name: w, x: 1468, y: 0, width: 100, height: 64}]", ["32 px past the right"]),
        ("weld_001: [{name: w, x: 0, y: 0, width: 64, height: 64}", ["YAML error at line"]),
    ],
)
def test_cli_preview_reports_a_bad_manifest_in_one_line(demo_files, tmp_path, entry, words):
    out, _ = demo_files
    (tmp_path / "crops.yaml").write_text(f"version: 1\nimages:\n  {entry}\n")
    done = subprocess.run(
        [*CLI, "crops", "preview", str(tmp_path / "crops.yaml"), str(out / "images/weld_001.dcm")]
        + ["-o", str(tmp_path / "p")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), done.stderr
    for word in words:
        assert word in lines[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "p").exists()


def test_cli_preview_of_a_subset_and_defects_left_out(demo_files, tmp_path):
    out, _ = demo_files
    (tmp_path / "crops.yaml").write_text(
        "version: 1\nimages:\n"
        "  weld_001: [{name: w, x: 0, y: 0, width: 128, height: 64}]\n"
        + "".join(
            f"  other_{i}: [{{name: w, x: 0, y: 0, width: 64, height: 64}}]\n" for i in range(8)
        )
    )
    (tmp_path / "ann.yaml").write_text(
        "images:\n  weld_001:\n"
        "    - {x: 100, y: 40, width: 40, height: 10, severity: likely}\n"  # 120 px out
        "    - {x: 10, y: 10, width: 5, height: 5, severity: likely}\n"  # inside the crop
    )
    base = [
        *CLI,
        "crops",
        "preview",
        str(tmp_path / "crops.yaml"),
        str(out / "images/weld_001.dcm"),
    ]
    done = subprocess.run(
        base + ["-o", str(tmp_path / "p"), "--annotations", str(tmp_path / "ann.yaml")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr  # the manifest may list other images
    assert "8 image(s) not given here" in done.stderr and "and 3 more" in done.stderr
    assert "weld_001: 120 annotated defect pixel(s) of 1 defect(s) lie outside every crop" in (
        done.stderr
    )
    strict = subprocess.run(
        base + ["-o", str(tmp_path / "q"), "--annotations", str(tmp_path / "ann.yaml"), "--strict"],
        capture_output=True,
        text=True,
    )
    lines = strict.stderr.strip().splitlines()
    assert strict.returncode == 1 and lines[-1].startswith("ERROR: ") and "120" in lines[-1]
