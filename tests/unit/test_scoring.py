import numpy as np
import pandas as pd

from weld_anomaly import hdf5_io
from weld_anomaly.model import build_autoencoder
from weld_anomaly.scoring import score_columns, score_image, stitch


def test_score_image_writes_one_row_per_fragment(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(100, 140, (96, 160), dtype=np.uint8)
    pixels[40:44, 100:104] = 20  # a dark spot
    hdf5_io.write_crops(tmp_path / "c.h5", "img", [hdf5_io.Crop("weld", 5, 7, 160, 96, pixels)], {})
    from weld_anomaly.preprocess import fragment_crops

    n = fragment_crops(tmp_path / "c.h5", tmp_path / "f.h5", 64, 32)
    model = build_autoencoder(64, (4, 8, 8))
    table = score_image(
        None,
        tmp_path / "f.h5",
        tmp_path / "c.h5",
        tmp_path / "s.csv",
        "img",
        batch_size=4,
        median_size=21,
        sigma=1.0,
        model=model,
    )
    back = pd.read_csv(tmp_path / "s.csv")
    assert len(back) == n == len(table)
    assert list(back.columns) == ["image", "fragment", "crop", "y", "x", *score_columns()]
    assert {"residual_s1", "residual_s2", "residual_s3"} <= set(back.columns)
    assert back["y"].min() == 7 and back["x"].min() == 5  # image coordinates
    spot = (back["y"] <= 47) & (back["y"] + 64 > 47) & (back["x"] <= 105) & (back["x"] + 64 > 105)
    assert back.loc[spot, "baseline"].min() > back.loc[~spot, "baseline"].max()
    assert np.allclose(back["frag_min"][spot], 20 / 255, atol=1e-6)
    assert back.loc[spot, "residual_s2"].min() > back.loc[~spot, "residual_s2"].max()


def test_scores_are_reproducible(tmp_path):
    rng = np.random.default_rng(1)
    pixels = rng.integers(90, 160, (64, 128), dtype=np.uint8)
    hdf5_io.write_crops(tmp_path / "c.h5", "img", [hdf5_io.Crop("w", 0, 0, 128, 64, pixels)], {})
    from weld_anomaly.preprocess import fragment_crops

    fragment_crops(tmp_path / "c.h5", tmp_path / "f.h5", 64, 32)
    model = build_autoencoder(64, (4, 8, 8))
    for name in ("a.csv", "b.csv"):
        score_image(
            None,
            tmp_path / "f.h5",
            tmp_path / "c.h5",
            tmp_path / name,
            "img",
            batch_size=2,
            median_size=21,
            sigma=1.0,
            model=model,
        )
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_stitching_overlapping_fragments_restores_the_image():
    rng = np.random.default_rng(2)
    image = rng.random((96, 160))
    from weld_anomaly import tiling

    frags, corners = tiling.cut_fragments(image, 64, 32)
    np.testing.assert_allclose(stitch(image.shape, corners, frags), image)
