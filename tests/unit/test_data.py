import numpy as np

from weld_anomaly.data import FragmentBatches, scale


def test_scale_to_unit_float():
    x = scale(np.array([[[0, 255]]], dtype=np.uint8))
    assert x.dtype == np.float32 and x.shape == (1, 1, 2, 1) and x.max() == 1.0
    assert scale(np.array([[[65535]]], dtype=np.uint16)).max() == 1.0


def test_batches_cover_every_fragment_once_per_epoch_in_a_seeded_order():
    frags = np.arange(10, dtype=np.uint8)[:, None, None] * np.ones((1, 2, 2), np.uint8)
    batches = FragmentBatches(frags, batch_size=4, shuffle=True, seed=3)
    assert len(batches) == 3

    def epoch_values():
        return sorted(
            int(v) for i in range(len(batches)) for v in batches[i][0][:, 0, 0, 0] * 255 + 0.5
        )

    first = [batches[i][0].shape[0] for i in range(3)]
    assert first == [4, 4, 2] and epoch_values() == list(range(10))
    order0 = batches._order.copy()
    batches.on_epoch_end()
    assert not np.array_equal(order0, batches._order)
    again = FragmentBatches(frags, batch_size=4, shuffle=True, seed=3)
    again.set_epoch(1)
    np.testing.assert_array_equal(again._order, batches._order)
    x, y = batches[0]
    assert x is y
