import pytest

from weld_anomaly.errors import ManifestError
from weld_anomaly.ingest.manifests import (
    CropSpec,
    check_crops_fit,
    check_known_images,
    load_annotations,
    load_crop_manifest,
)


def manifest(tmp_path, text):
    path = tmp_path / "crops.yaml"
    path.write_text(text)
    return path


def error_line(func, *args):
    with pytest.raises(ManifestError) as info:
        func(*args)
    line = info.value.line()
    assert "\n" not in line
    return line


def test_valid_manifest(tmp_path):
    path = manifest(
        tmp_path,
        "version: 1\nimages:\n  w1:\n"
        "    - {name: weld, x: 0, y: 10, width: 100, height: 64}\n  w2: []\n",
    )
    crops = load_crop_manifest(path, 64)
    assert crops == {"w1": [CropSpec(0, 10, 100, 64, "weld")], "w2": []}


@pytest.mark.parametrize(
    "body,words",
    [
        (
            "images:\n  w1:\n    - {name: a, x: 0, y: 0, width: 64, height: 64\n",
            ["line", "YAML error"],
        ),
        ("images:\n  w1: []\n  w1: []\n", ["duplicate key 'w1'", "line 3"]),
        (
            "images:\n  w1:\n    - {name: a, x: 0, y: 0, width: 64, height: 64, colour: red}\n",
            ["image w1, crop a", "unknown field(s) colour"],
        ),
        (
            "images:\n  w1:\n    - {name: a, x: -3, y: 0, width: 64, height: 64}\n",
            ["crop a", "'x' is negative (-3)"],
        ),
        (
            "images:\n  w1:\n    - {name: a, x: 0, y: 0, width: 0, height: 64}\n",
            ["'width' is zero or negative"],
        ),
        (
            "images:\n  w1:\n    - {name: a, x: 0, y: 0, width: 40, height: 64}\n",
            ["40x64 px, smaller than one 64x64 fragment"],
        ),
        (
            "images:\n  w1:\n    - {name: a, x: 0, y: 0, width: 64, height: 64}\n"
            "    - {name: a, x: 5, y: 0, width: 64, height: 64}\n",
            ["duplicate crop name", "crop a"],
        ),
        (
            "images:\n  w1:\n    - {name: a, x: 0.5, y: 0, width: 64, height: 64}\n",
            ["'x' must be a whole number"],
        ),
        ("crops: {}\n", ["mapping with an 'images' key"]),
    ],
)
def test_manifest_errors(tmp_path, body, words):
    line = error_line(load_crop_manifest, manifest(tmp_path, body), 64)
    assert "crops.yaml" in line
    for word in words:
        assert word in line


def test_missing_file_and_unknown_images(tmp_path):
    assert "not found" in error_line(load_crop_manifest, tmp_path / "nope.yaml", 64)
    line = error_line(
        check_known_images, {"w1": [], "zz": []}, {"w1"}, "crops.yaml", "crop manifest"
    )
    assert "1 unknown image id(s): zz" in line


def test_crop_outside_image_says_by_how_much():
    crops = [CropSpec(900, 10, 200, 64, "weld")]
    line = error_line(check_crops_fit, crops, 100, 1024, "w1", "crops.yaml")
    assert "image w1, crop weld" in line and "76 px past the right edge" in line
    check_crops_fit([CropSpec(0, 0, 1024, 100, "all")], 100, 1024, "w1", "crops.yaml")


def test_annotations(tmp_path):
    path = tmp_path / "ann.yaml"
    path.write_text(
        "images:\n  w1:\n    - {x: 1, y: 2, width: 3, height: 4, severity: possible, type: pore}\n"
    )
    (box,) = load_annotations(path)["w1"]
    assert (box.x, box.y1, box.severity) == (1, 6, "possible")
    path.write_text("images:\n  w1:\n    - {x: 1, y: 2, width: 3, height: 4, severity: maybe}\n")
    assert "severity must be 'likely' or 'possible'" in error_line(load_annotations, path)


def test_large_yaml_is_parsed_once_per_content(tmp_path, monkeypatch):
    from weld_anomaly import files

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(files, "YAML_CACHE_MIN_BYTES", 10)
    manifest = tmp_path / "crops.yaml"
    manifest.write_text(
        "version: 1\nimages:\n  a: [{name: w, x: 0, y: 1, width: 64, height: 64}]\n"
    )
    first = files.load_yaml(manifest)
    kept = list((tmp_path / ".cache/yaml").glob("*.json"))
    assert len(kept) == 1
    assert files.load_yaml(manifest) == first  # from the cache
    kept[0].write_text('{"version": 2}')  # (what the cache says is what is returned)
    assert files.load_yaml(manifest) == {"version": 2}
    manifest.write_text("version: 1\nimages: {}\n")  # new content: parsed again
    assert files.load_yaml(manifest) == {"version": 1, "images": {}}
    # a duplicate key is refused every time, never cached
    manifest.write_text("version: 1\nversion: 2\n")
    for _ in range(2):
        with pytest.raises(ManifestError, match="duplicate key"):
            files.load_yaml(manifest)
    # numbers as keys: JSON would make them text, so such a tree is not kept
    manifest.write_text("1: a\n2: b\n")
    assert files.load_yaml(manifest) == {1: "a", 2: "b"}
    assert files.load_yaml(manifest) == {1: "a", 2: "b"}
    assert len(list((tmp_path / ".cache/yaml").glob("*.json"))) == 2  # the two manifests
