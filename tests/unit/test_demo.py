"""The demo archive: deterministic, and built from the measured statistics of real films."""

import hashlib
from dataclasses import replace

import numpy as np
import pydicom
import pytest
import yaml
from PIL import Image
from scipy import fft

from weld_anomaly.ingest.normalize import textbook_map
from weld_anomaly.simulate import demo, films

SMALL = demo.DemoSettings(
    films=3,
    pipe_films=1,
    faulty_films=1,
    faulty_crops=2,
    film_size=(384, 1024),
    crop_size=(256, 1024),
    hidden_flaws=1.0,
    seed=3,
)


def test_plan_is_deterministic_and_mixes_kinds():
    images = demo.plan(SMALL)
    assert images == demo.plan(SMALL)
    kinds = sorted((i.kind, i.status) for i in images)
    assert kinds == [
        ("crop", "faulty"),
        ("crop", "faulty"),
        ("film", "faulty"),
        ("film", "nonfaulty"),
        ("film", "nonfaulty"),
        ("pipe", "nonfaulty"),
    ]
    assert all(i.file_name.endswith(".png" if i.kind == "crop" else ".dcm") for i in images)
    assert all(i.flaw_events > 0 for i in images)  # hidden_flaws=1: every image has some
    np.testing.assert_array_equal(
        demo.render(SMALL, images[0]).grey, demo.render(SMALL, images[0]).grey
    )


def _noise_sd(grey: np.ndarray) -> float:
    """docs/real-films.md's definition: image minus a 41 x 41 median, 3-sigma-clipped sd."""
    r = -textbook_map(np.clip(np.rint(grey), 0, 255).astype(np.uint8), 41, 0.0)
    r = r[20:-20, 20:-20].ravel()
    for _ in range(5):
        r = r[np.abs(r - r.mean()) <= 3 * r.std()]
    return float(r.std())


def _hwhm(noise: np.ndarray, axis: int) -> float:
    """Half-width at half height of the autocorrelation along ``axis`` (pixels)."""
    spectrum = fft.fft(noise - noise.mean(), axis=axis)
    ac = fft.ifft(np.abs(spectrum) ** 2, axis=axis).real.mean(axis=1 - axis)
    ac = ac / ac[0]
    i = int(np.argmax(ac < 0.5))
    return (i - 1) + (ac[i - 1] - 0.5) / (ac[i - 1] - ac[i])


@pytest.mark.parametrize("coarse, along, across", [(False, 0.87, 1.2), (True, 2.6, 2.6)])
def test_grain_is_correlated_like_real_films(coarse, along, across):
    noise = films.grain(np.random.default_rng(0), (512, 512), coarse=coarse)
    assert _hwhm(noise, 1) == pytest.approx(along, rel=0.2)
    assert _hwhm(noise, 0) == pytest.approx(across, rel=0.25)


@pytest.mark.parametrize("seed", range(4))
def test_films_and_crops_have_real_noise_levels_and_grey_levels(seed):
    film = films.render([seed, 1], "film", 768, 1024, 0)
    crop = films.render([seed, 2], "crop", 480, 1024, 0)
    assert 1.6 < _noise_sd(film.grey) < 5.5  # films: 2.2 / 3.2 / 4.2 grey (p10/50/90)
    assert 1.0 < _noise_sd(crop.grey) < 2.0  # crops: 1.25 / 1.45 / 1.54
    assert 100 <= film.fwhm_px <= 0.45 * 768  # bead FWHM 142 / 272 / 454 px
    lo, hi = np.percentile(film.grey, [1, 99])
    assert 0 <= lo < 80 and 100 < hi <= 255  # real: 1st pct 4 / 17 / 45, 99th 156 / 204 / 231
    assert np.mean(film.grey <= 0.5) < 0.001  # no saturation
    x, y, w, h = film.weld_box
    assert w == 1024 and y >= 0 and y + h <= 768 and h > film.fwhm_px


def test_flaws_are_masked_dark_and_inside_the_image():
    image = max((i for i in demo.plan(SMALL) if i.kind == "crop"), key=lambda i: i.flaw_events)
    radiograph = demo.render(SMALL, image)
    assert len(radiograph.flaws) >= 3
    assert radiograph.defect_mask.sum() == pytest.approx(
        sum(f.area for f in radiograph.flaws), rel=0.2
    )  # overlapping flaws share pixels
    clean = films.render([SMALL.seed, image.index], "crop", *SMALL.crop_size, 0)
    for flaw in radiograph.flaws:
        x, y, w, h = flaw.box
        assert x >= 0 and x + w <= SMALL.crop_size[1] and y >= 0 and y + h <= SMALL.crop_size[0]
        inside = radiograph.defect_mask[y : y + h, x : x + w]
        assert inside[flaw.mask].all()
        if flaw.kind != "tungsten inclusion":
            assert flaw.contrast < 0 and flaw.severity in ("likely", "possible")
    darker = [
        radiograph.grey[f.box[1] : f.box[1] + f.box[3], f.box[0] : f.box[0] + f.box[2]][
            f.mask
        ].mean()
        < clean.grey[f.box[1] : f.box[1] + f.box[3], f.box[0] : f.box[0] + f.box[2]][f.mask].mean()
        for f in radiograph.flaws
        if f.kind != "tungsten inclusion" and abs(f.cnr) > 3
    ]
    assert darker and all(darker)


def test_written_demo_is_real_files_byte_identical_with_tables_and_masks(tmp_path):
    out_a = tmp_path / "a"
    images = demo.write_demo(SMALL, out_a)
    demo.write_demo(SMALL, tmp_path / "b")
    photometrics = set()
    for image in images:
        a = (out_a / "images" / image.file_name).read_bytes()
        b = (tmp_path / "b" / "images" / image.file_name).read_bytes()
        assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest()
        if image.kind == "crop":
            with Image.open(out_a / "images" / image.file_name) as png:
                assert png.mode == "L" and png.size == SMALL.crop_size[::-1]
            continue
        ds = pydicom.dcmread(out_a / "images" / image.file_name)
        assert ds.Modality == "DX" and ds.BitsAllocated == 16 and 12 <= ds.BitsStored <= 16
        assert ds.pixel_array.max() < 2**ds.BitsStored
        photometrics.add(ds.PhotometricInterpretation)
    assert photometrics <= {"MONOCHROME1", "MONOCHROME2"} and photometrics
    for name in ("labels.csv", "annotations.yaml", "crops.yaml", "truth.yaml"):
        assert (out_a / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    annotations = yaml.safe_load((out_a / "annotations.yaml").read_text())["images"]
    faulty = {i.image_id for i in images if i.status == "faulty"}
    assert set(annotations) == faulty
    assert {p.stem for p in (out_a / "masks").iterdir()} == faulty
    crops = yaml.safe_load((out_a / "crops.yaml").read_text())["images"]
    assert set(crops) == {i.image_id for i in images if i.kind != "crop"}  # crops stay whole
    truth = yaml.safe_load((out_a / "truth.yaml").read_text())["images"]
    hidden = [t for i, t in truth.items() if i not in faulty]
    assert all(t["unmarked_flaws"] for t in hidden)  # "non-faulty" films with flaws
    labels = (out_a / "labels.csv").read_text().splitlines()
    assert labels[0] == "image,file,status,pixel_size_mm" and len(labels) == 7


def test_dense_crops_are_riddled_with_porosity_and_contrast_scales_the_flaws():
    from weld_anomaly.ingest import tiling

    settings = replace(SMALL, faulty_crops=3, dense_crops=1, crop_size=(320, 1280))
    crops = [i for i in demo.plan(settings) if i.kind == "crop"]
    assert [i.dense for i in crops] == [True, False, False]  # the first faulty crop
    shares = []
    for image in crops:
        r = demo.render(settings, image)
        _, corners = tiling.cut_fragments(r.grey, 64, 32)
        shares.append(np.mean(tiling.max_per_fragment(r.defect_mask.astype(np.uint8), corners, 64)))
    # the densest real crop: about half its fragments hold a flaw; a usual one a tenth or less
    assert shares[0] > 0.3 and max(shares[1:]) < 0.2, shares
    # flaw_contrast multiplies every flaw's contrast, nothing else changes
    sparse = crops[1]
    weak, strong = (demo.render(replace(settings, flaw_contrast=c), sparse) for c in (1.0, 2.0))
    assert [f.box for f in weak.flaws] == [f.box for f in strong.flaws]
    assert [2 * f.contrast for f in weak.flaws] == pytest.approx(
        [f.contrast for f in strong.flaws], abs=0.002
    )  # (rounded to 3 decimals)
