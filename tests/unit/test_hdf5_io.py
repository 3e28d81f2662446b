import hashlib

import numpy as np
import pytest

from weld_anomaly.errors import ImageError
from weld_anomaly.files import atomic_path
from weld_anomaly.ingest import hdf5_io


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_image_round_trip_and_byte_identical_rewrites(tmp_path):
    pixels = np.arange(300 * 500, dtype=np.uint32).reshape(300, 500).astype(np.uint8)
    attrs = {
        "window_lo": 1.5,
        "window_method": "percentile",
        "percentiles": [0.5, 99.5],
        "inverted_monochrome1": True,
        "pixel_spacing_mm": [0.1, 0.1],
        "skip": None,
    }
    hdf5_io.write_image(tmp_path / "a.h5", pixels, attrs)
    hdf5_io.write_image(tmp_path / "b.h5", pixels, attrs)
    assert digest(tmp_path / "a.h5") == digest(tmp_path / "b.h5")
    back, got = hdf5_io.read_image(tmp_path / "a.h5")
    np.testing.assert_array_equal(back, pixels)
    assert got["percentiles"] == [0.5, 99.5] and got["window_method"] == "percentile"
    assert got["inverted_monochrome1"] is True and "skip" not in got


def test_crops_and_fragment_sets(tmp_path):
    crops = [
        hdf5_io.Crop("weld", 3, 4, 70, 66, np.ones((66, 70), np.uint8)),
        hdf5_io.Crop("root", 0, 0, 64, 64, np.zeros((64, 64), np.uint8)),
    ]
    hdf5_io.write_crops(tmp_path / "c.h5", "img", crops, {"bit_depth": 8})
    back, attrs = hdf5_io.read_crops(tmp_path / "c.h5")
    assert [c.name for c in back] == ["weld", "root"] and attrs["image_id"] == "img"
    assert back[0].pixels.shape == (66, 70) and back[0].x == 3

    parts = []
    for i, n in enumerate((5, 0, 300)):
        frags = hdf5_io.Fragments(
            np.full((n, 64, 64), i, np.uint8),
            np.zeros((n, 2), int),
            np.zeros(n, int),
            ["weld"],
            {"image_id": f"i{i}"},
        )
        hdf5_io.write_fragments(tmp_path / f"f{i}.h5", frags)
        parts.append(tmp_path / f"f{i}.h5")
    total = hdf5_io.write_fragment_set(tmp_path / "set.h5", parts, ["i0", "i1", "i2"])
    data, attrs = hdf5_io.read_fragment_set(tmp_path / "set.h5")
    assert total == 305 and data.shape == (305, 64, 64)
    assert (
        (data[:5] == 0).all() and (data[5:] == 2).all() and attrs["image_ids"] == ["i0", "i1", "i2"]
    )


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.h5"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_unreadable_files_are_user_errors(tmp_path):
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(ImageError, match="not a readable HDF5 file"):
        hdf5_io.read_image(tmp_path / "junk.h5")
    with pytest.raises(ImageError, match="HDF5 file not found"):
        hdf5_io.read_image(tmp_path / "none.h5")
