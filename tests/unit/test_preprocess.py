import h5py
import numpy as np
import pytest
from dicom_factory import weld_pattern, write_dicom

from weld_anomaly.errors import ManifestError
from weld_anomaly.ingest import preprocess, tiling
from weld_anomaly.ingest.convert import ConvertSettings


@pytest.fixture
def image_h5(tmp_path):
    src = write_dicom(tmp_path / "w.dcm", weld_pattern(150, 300), PatientName="Secret^Name")
    out = tmp_path / "w.h5"
    attrs = preprocess.convert_image(src, out, ConvertSettings(), "w")
    assert attrs["height"] == 150 and attrs["image_id"] == "w"
    return out


def test_crop_then_fragment(image_h5, tmp_path):
    crops = [
        {"name": "weld", "x": 10, "y": 20, "width": 200, "height": 100},
        {"name": "tail", "x": 236, "y": 0, "width": 64, "height": 64},
    ]
    specs = preprocess.extract_crops(
        image_h5, crops, None, tmp_path / "c.h5", tmp_path / "c.png", "w", 64, preview_width=200
    )
    assert [s.name for s in specs] == ["weld", "tail"]
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    n = preprocess.fragment_crops(tmp_path / "c.h5", tmp_path / "f.h5", 64, 32)
    assert n == tiling.fragment_count(100, 200, 64, 32) + 1
    with h5py.File(tmp_path / "f.h5") as f, h5py.File(image_h5) as img:
        frags, corners = f["fragments"][()], f["corners"][()]
        image = img["image"][()]
        assert list(f.attrs["crop_names"]) == ["weld", "tail"]
    for frag, (y, x) in zip(frags, corners, strict=True):  # corners are in image coordinates
        np.testing.assert_array_equal(frag, image[y : y + 64, x : x + 64])
    assert b"Secret" not in image_h5.read_bytes()


def test_crop_and_fragment_is_the_two_steps_in_one(image_h5, tmp_path):
    crops = [{"name": "weld", "x": 10, "y": 20, "width": 200, "height": 100}]
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    n = preprocess.crop_and_fragment(
        image_h5, crops, None, one / "c.h5", one / "c.png", one / "f.h5", "w", size=64, stride=32
    )
    preprocess.extract_crops(image_h5, crops, None, two / "c.h5", two / "c.png", "w", 64)
    assert n == preprocess.fragment_crops(two / "c.h5", two / "f.h5", 64, 32)
    with h5py.File(one / "f.h5") as a, h5py.File(two / "f.h5") as b:
        np.testing.assert_array_equal(a["fragments"][()], b["fragments"][()])


def test_missing_crops_whole_image_or_error(image_h5, tmp_path):
    specs = preprocess.extract_crops(
        image_h5, None, None, tmp_path / "c.h5", tmp_path / "c.png", "w", 64
    )
    assert [(s.name, s.width, s.height) for s in specs] == [("image", 300, 150)]
    with pytest.raises(ManifestError, match="image w has no crops"):
        preprocess.extract_crops(
            image_h5,
            [],
            "crops.yaml",
            tmp_path / "d.h5",
            tmp_path / "d.png",
            "w",
            64,
            missing="error",
        )
    assert not (tmp_path / "d.h5").exists()


def test_crops_touching_every_edge_are_cut_and_covered_to_the_last_pixel(image_h5, tmp_path):
    """Four crops, each flush with one edge of the 150 x 300 image (and one with all four):
    every crop's pixels are the image's, and its fragments reach each of its edges."""
    crops = [
        {"name": "top", "x": 40, "y": 0, "width": 130, "height": 70},
        {"name": "bottom", "x": 50, "y": 80, "width": 100, "height": 70},
        {"name": "left", "x": 0, "y": 30, "width": 90, "height": 80},
        {"name": "right", "x": 221, "y": 20, "width": 79, "height": 99},
        {"name": "whole", "x": 0, "y": 0, "width": 300, "height": 150},
    ]
    preprocess.extract_crops(
        image_h5, crops, None, tmp_path / "c.h5", tmp_path / "c.png", "w", 64, preview_width=200
    )
    preprocess.fragment_crops(tmp_path / "c.h5", tmp_path / "f.h5", 64, 32)
    with h5py.File(tmp_path / "f.h5") as f, h5py.File(image_h5) as img:
        frags, corners, index = f["fragments"][()], f["corners"][()], f["crop_index"][()]
        image = img["image"][()]
    for i, c in enumerate(crops):
        mine = corners[index == i]
        covered = np.zeros(image.shape, bool)
        for frag, (y, x) in zip(frags[index == i], mine, strict=True):
            np.testing.assert_array_equal(frag, image[y : y + 64, x : x + 64])
            covered[y : y + 64, x : x + 64] = True
        inside = np.zeros(image.shape, bool)
        inside[c["y"] : c["y"] + c["height"], c["x"] : c["x"] + c["width"]] = True
        assert (covered == inside).all(), c["name"]  # every crop pixel, nothing outside
