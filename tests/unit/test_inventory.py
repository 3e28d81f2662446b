import pytest

from weld_anomaly.errors import ManifestError
from weld_anomaly.ingest import inventory
from weld_anomaly.ingest.inventory import ImageRecord, assign_splits


def write(path, text):
    path.write_text(text)
    return path


def touch(*paths):
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_table_with_and_without_file_column(tmp_path):
    touch(tmp_path / "imgs/W0001.dcm", tmp_path / "imgs/sub/W 0002.dcm", tmp_path / "a.dcm")
    labels = write(tmp_path / "labels.csv", "image,status\nW0001.dcm,faulty\nsub/W 0002.dcm,ok\n")
    recs = inventory.from_table(labels, tmp_path / "imgs")
    assert [(r.image_id, r.status) for r in recs] == [("W0001", "faulty"), ("W_0002", "nonfaulty")]
    assert recs[0].file == str(tmp_path / "imgs" / "W0001.dcm")
    labels = write(tmp_path / "l2.csv", "image,file,status,split\nA1,a.dcm,nonfaulty,validation\n")
    (rec,) = inventory.from_table(labels, tmp_path)
    assert rec.image_id == "A1" and rec.split == "validation"


@pytest.mark.parametrize(
    "text,words",
    [
        ("name,status\nx,faulty\n", ["lacks column(s) image"]),
        ("image,status\nx.dcm,broken\n", ["line 2", "unknown status 'broken'"]),
        ("image,status\nx.dcm,faulty\nx.png,faulty\n", ["used twice", "x.dcm", "x.png"]),
        ("image,file,status\nbad/id,x.dcm,faulty\n", ["image id 'bad/id'"]),
        ("image,status,split\nx.dcm,faulty,train\n", ["cannot be in the train split"]),
        ("image,status,split\nx.dcm,faulty,holdout\n", ["unknown split 'holdout'"]),
        ("image,status\n", ["no images found"]),
        (
            "image,status\nx.dcm,ok\nimages/y.dcm,ok\nz.dcm,ok\n",
            [
                "line 3",
                "image 'y' not found at",
                "images/y.dcm",
                "(1 more listed",
                "data.images_dir",
            ],
        ),
    ],
)
def test_table_errors_name_file_line_and_fix(tmp_path, text, words):
    touch(tmp_path / "x.dcm", tmp_path / "x.png")
    labels = write(tmp_path / "labels.csv", text)
    with pytest.raises(ManifestError) as info:
        inventory.from_table(labels, tmp_path)
    line = info.value.line()
    assert "labels.csv" in line and "\n" not in line
    for word in words:
        assert word in line


def test_folders_and_annotations_sources(tmp_path):
    for rel in ("faulty/a.dcm", "nonfaulty/b.dcm", "nonfaulty/deep/c.png", "nonfaulty/notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    recs = inventory.from_folders(tmp_path, [".dcm", ".png"])
    assert [(r.image_id, r.status) for r in recs] == [
        ("a", "faulty"),
        ("b", "nonfaulty"),
        ("c", "nonfaulty"),
    ]
    recs = inventory.from_annotations(tmp_path, [".dcm"], {"b": [object()], "a": []})
    assert {r.image_id: r.status for r in recs} == {"a": "nonfaulty", "b": "faulty"}
    with pytest.raises(ManifestError, match="folder 'faulty' not found"):
        inventory.from_folders(tmp_path / "nonfaulty", [".dcm"])


def test_splits_are_balanced_stable_and_faulty_is_test():
    recs = [ImageRecord(f"img{i:03d}", "", "nonfaulty") for i in range(20)]
    recs += [ImageRecord(f"bad{i}", "", "faulty") for i in range(5)]
    out = assign_splits(recs, 0.2, 0.2, seed=1)
    splits = {r.image_id: r.split for r in out}
    assert sum(s == "test" for k, s in splits.items() if k.startswith("img")) == 4
    assert sum(s == "validation" for s in splits.values()) == 4
    assert all(splits[f"bad{i}"] == "test" for i in range(5))  # faulty_validation = 0
    with_val = {
        r.image_id: r.split for r in assign_splits(recs, 0.2, 0.2, seed=1, faulty_validation=0.4)
    }
    assert sorted(with_val[f"bad{i}"] for i in range(5)) == ["test"] * 3 + ["validation"] * 2
    assert all(with_val[k] == v for k, v in splits.items() if k.startswith("img"))
    assert assign_splits(list(reversed(recs)), 0.2, 0.2, seed=1)[::-1] == out
    # adding one image moves at most a couple of others
    more = assign_splits([*recs, ImageRecord("img999", "", "nonfaulty")], 0.2, 0.2, seed=1)
    moved = sum(splits[r.image_id] != r.split for r in more if r.image_id in splits)
    assert moved <= 2
    assert assign_splits(recs, 0.2, 0.2, seed=2) != out


def test_small_sets_still_get_each_split():
    recs = [ImageRecord(f"i{i}", "", "nonfaulty") for i in range(3)]
    assert sorted(r.split for r in assign_splits(recs, 0.1, 0.1, 0)) == [
        "test",
        "train",
        "validation",
    ]


def test_manifest_round_trip(tmp_path):
    recs = [ImageRecord("a", "x/a.dcm", "faulty", "test")]
    inventory.write_manifest([list(r.__dict__.values()) for r in recs], tmp_path / "m.csv")
    assert inventory.read_manifest(tmp_path / "m.csv") == recs
