import numpy as np
import pytest

from weld_anomaly.ingest import tiling


def test_positions_cover_border_with_a_flush_last_fragment():
    assert tiling.axis_positions(200, 64, 32).tolist() == [0, 32, 64, 96, 128, 136]
    assert tiling.axis_positions(192, 64, 32).tolist() == [0, 32, 64, 96, 128]
    assert tiling.axis_positions(64, 64, 32).tolist() == [0]
    assert tiling.axis_positions(65, 64, 32).tolist() == [0, 1]


@pytest.mark.parametrize("height,width", [(64, 64), (65, 64), (100, 257), (217, 2048), (96, 96)])
def test_count_matches_formula_and_grid(height, width):
    def per_axis(n):  # ((L - 64) / 32 + 1) rounded up, i.e. the border-aligned count
        return int(np.ceil((n - 64) / 32)) + 1

    expected = per_axis(height) * per_axis(width)
    assert tiling.fragment_count(height, width, 64, 32) == expected
    assert len(tiling.fragment_grid(height, width, 64, 32)) == expected


def test_every_pixel_is_covered_and_fragments_match_slices():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (150, 230), dtype=np.uint8)
    frags, corners = tiling.cut_fragments(image, 64, 32)
    covered = np.zeros(image.shape, dtype=bool)
    for frag, (y, x) in zip(frags, corners, strict=True):
        np.testing.assert_array_equal(frag, image[y : y + 64, x : x + 64])
        covered[y : y + 64, x : x + 64] = True
    assert covered.all()
    assert frags.dtype == np.uint8 and frags.flags["C_CONTIGUOUS"]
    assert corners[:, 0].max() == 150 - 64 and corners[:, 1].max() == 230 - 64


def test_rejects_gaps_and_small_axes():
    with pytest.raises(ValueError, match="stride 80 is larger"):
        tiling.axis_positions(200, 64, 80)
    with pytest.raises(ValueError, match="shorter than one"):
        tiling.axis_positions(63, 64, 32)


def test_max_per_fragment():
    score = np.zeros((128, 128), dtype=np.float32)
    score[100, 10] = 5.0
    corners = tiling.fragment_grid(128, 128, 64, 32)
    best = tiling.max_per_fragment(score, corners, 64)
    hit = {(int(y), int(x)) for (y, x), v in zip(corners, best, strict=True) if v == 5.0}
    assert hit == {(64, 0)}


@pytest.mark.parametrize("size", [64, 7])
def test_per_fragment_max_and_mean_match_the_windows(size):
    """The running-maximum and summed-area versions give the windows' own numbers."""
    from weld_anomaly.ingest.tiling import fragment_grid, max_per_fragment, mean_per_fragment

    rng = np.random.default_rng(2)
    score_map = rng.normal(size=(150, 233)).astype(np.float32)
    mask = rng.random((150, 233)) < 0.1
    corners = fragment_grid(150, 233, size, size // 2)
    windows = np.lib.stride_tricks.sliding_window_view(score_map, (size, size))
    expected = windows[corners[:, 0], corners[:, 1]].max(axis=(1, 2))
    np.testing.assert_array_equal(max_per_fragment(score_map, corners, size), expected)
    edges = np.zeros_like(mask)  # only the last row and column: the flush fragments
    edges[-1, :] = edges[:, -1] = True
    for m in (mask, edges, np.zeros_like(mask), np.ones_like(mask)):
        masks = np.lib.stride_tricks.sliding_window_view(m.astype(float), (size, size))
        expected = masks[corners[:, 0], corners[:, 1]].mean(axis=(1, 2))
        # booleans counted in bands; the same map as numbers through the summed-area table
        np.testing.assert_array_equal(mean_per_fragment(m, corners, size), expected)
        np.testing.assert_array_equal(
            mean_per_fragment(m.astype(np.float32), corners, size), expected
        )
