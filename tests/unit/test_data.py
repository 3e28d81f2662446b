import h5py
import numpy as np
import pytest

from weld_anomaly.model.batches import FragmentBatches, open_fragments, scale


def test_scale_to_unit_float():
    x = scale(np.array([[[0, 255]]], dtype=np.uint8))
    assert x.dtype == np.float32 and x.shape == (1, 1, 2, 1) and x.max() == 1.0
    assert scale(np.array([[[65535]]], dtype=np.uint16)).max() == 1.0


def ids_of(batches):
    """The fragment ids (stored in pixel [0, 0] as id % 251 and [0, 1] as id // 251)."""
    out = []
    for i in range(len(batches)):
        x, y = batches[i]
        assert x is y and x.dtype == np.float32
        v = np.rint(x[:, 0, :2, 0] * 255).astype(int)
        out.extend((v[:, 1] * 251 + v[:, 0]).tolist())
    return out


def fragments(n):
    frags = np.zeros((n, 4, 4), np.uint8)
    frags[:, 0, 0] = np.arange(n) % 251
    frags[:, 0, 1] = np.arange(n) // 251
    return frags


@pytest.mark.parametrize(
    "n,batch,chunk,group", [(1000, 64, 100, 3), (37, 8, 10, 1), (600, 128, 64, 16)]
)
def test_every_fragment_once_per_epoch_in_a_seeded_order(n, batch, chunk, group):
    data = fragments(n)
    batches = FragmentBatches(data, batch, shuffle=True, seed=3, chunk=chunk, group_chunks=group)
    assert len(batches) == -(-n // batch)
    first = ids_of(batches)
    assert sorted(first) == list(range(n)) and first != list(range(n))
    batches.on_epoch_end()
    second = ids_of(batches)
    assert sorted(second) == list(range(n)) and second != first
    again = FragmentBatches(data, batch, shuffle=True, seed=3, chunk=chunk, group_chunks=group)
    again.set_epoch(1)
    assert ids_of(again) == second  # a resumed run sees the same order
    assert ids_of(FragmentBatches(data, batch)) == list(range(n))  # validation: in order


def test_hdf5_source_streams_the_same_batches_as_memory(tmp_path):
    data = fragments(3000)
    with h5py.File(tmp_path / "set.h5", "w") as f:
        f.create_dataset("fragments", data=data, chunks=(256, 4, 4))
    in_memory, chunk = open_fragments(tmp_path / "set.h5", memory_limit_mb=100)
    assert isinstance(in_memory, np.ndarray) and chunk == 256
    streamed, _ = open_fragments(tmp_path / "set.h5", memory_limit_mb=0.001)
    assert isinstance(streamed, h5py.Dataset)
    a = FragmentBatches(in_memory, 100, shuffle=True, seed=1, chunk=chunk, group_chunks=4)
    b = FragmentBatches(streamed, 100, shuffle=True, seed=1, chunk=chunk, group_chunks=4)
    assert ids_of(a) == ids_of(b)
    # batches mix fragments from several chunks (a shuffle buffer of 4 chunks)
    x, _ = b[0]
    assert len(set(np.array(ids_of(b)[:100]) // 256)) >= 3


def test_blemish_corruption_is_seeded_local_and_keeps_clean_targets():
    from weld_anomaly.model.batches import add_blemishes

    data = np.full((64, 64, 64), 128, np.uint8)
    batches = FragmentBatches(data, 32, shuffle=True, seed=2, chunk=16, corruption="blemishes")
    x, y = batches[0]
    assert np.all(y == 128 / 255) and x.shape == y.shape
    changed = np.any(np.abs(x - y) > 1e-6, axis=(1, 2, 3))
    assert 0.2 < changed.mean() < 0.8  # about half the fragments carry blemishes
    assert np.all(np.abs(x - y).max(axis=(1, 2, 3)) <= 0.15 + 1e-6)
    again, _ = FragmentBatches(data, 32, shuffle=True, seed=2, chunk=16, corruption="blemishes")[0]
    np.testing.assert_array_equal(x, again)
    darker = (x - y).sum() < 0
    assert darker
    rng = np.random.default_rng(0)
    spots = add_blemishes(np.full((200, 64, 64, 1), 0.5, np.float32), rng, share=1.0)
    assert (spots < 0.5).mean() < 0.2  # local spots, not a global change


def test_an_epoch_can_show_a_random_part_of_the_set():
    batches = FragmentBatches(fragments(1000), 50, shuffle=True, seed=1, chunk=20, per_epoch=300)
    assert len(batches) == 6 and batches.seen_per_epoch == 300
    first = ids_of(batches)
    batches.on_epoch_end()
    second = ids_of(batches)
    assert len(set(first)) == len(set(second)) == 300 and set(first) != set(second)


@pytest.mark.parametrize("workers", [1, 3])
def test_the_epochs_generator_gives_the_indexed_batches_in_order(workers):
    """What training feeds ``model.fit``: epoch by epoch the batches ``batches[i]`` gives
    after ``set_epoch``, prepared in threads or not; from any first epoch (a resume); a
    generator closed early (early stopping) leaves no thread behind."""
    import threading

    data = fragments(700)
    batches = FragmentBatches(
        data, 64, shuffle=True, seed=5, chunk=50, group_chunks=3, corruption="blemishes"
    )
    expected = []
    for epoch in (1, 2):
        batches.set_epoch(epoch)
        expected += [batches[i] for i in range(len(batches))]
    got = list(batches.epochs(1, 3, workers))
    assert len(got) == len(expected) == 2 * len(batches)
    for (x, y), (x_expected, y_expected) in zip(got, expected, strict=True):
        np.testing.assert_array_equal(x, x_expected)
        np.testing.assert_array_equal(y, y_expected)
    stopped = batches.epochs(0, 5, workers)
    next(stopped)
    stopped.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("batches")]
