import hashlib

import numpy as np
import pydicom
import yaml

from weld_anomaly.ingest import demo

SMALL = demo.DemoSettings(n_nonfaulty=3, n_faulty=3, height=256, width=768, seed=3)


def test_plan_is_deterministic_and_counts_statuses():
    images = demo.plan(SMALL)
    assert images == demo.plan(SMALL)
    assert [i.status for i in images].count("faulty") == 3
    assert len({i.image_id for i in images}) == 6
    np.testing.assert_array_equal(
        demo.render(SMALL, images[0]).display, demo.render(SMALL, images[0]).display
    )


def test_defects_are_dark_inside_the_weld_and_annotated():
    faulty = next(i for i in demo.plan(SMALL) if i.status == "faulty")
    radiograph = demo.render(SMALL, faulty)
    clean = demo.render(SMALL, demo.DemoImage(faulty.index, faulty.image_id, "nonfaulty"))
    assert radiograph.defects
    wx, wy, ww, wh = radiograph.weld_box
    for d in radiograph.defects:
        x, y, w, h = d.box
        assert wx <= x and x + w <= wx + ww and wy <= y and y + h <= wy + wh
        assert d.severity in ("likely", "possible")
        # darker than the same place without the defect (noise differs, so compare means)
        inside = radiograph.display[y : y + h, x : x + w].mean()
        assert inside < clean.display[y : y + h, x : x + w].mean()
    sizes = [d.box[2] * d.box[3] for d in radiograph.defects]
    assert min(sizes) < 64 * 64  # fits a fragment


def test_written_demo_is_real_dicom_and_byte_identical(tmp_path):
    out_a = tmp_path / "a"
    images = demo.write_demo(SMALL, out_a)
    demo.write_demo(SMALL, tmp_path / "b")
    photometrics = set()
    for image in images:
        a = (out_a / "images" / image.file_name).read_bytes()
        b = (tmp_path / "b" / "images" / image.file_name).read_bytes()
        assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest()
        ds = pydicom.dcmread(out_a / "images" / image.file_name)
        assert ds.Modality == "DX" and ds.BitsAllocated == 16 and 12 <= ds.BitsStored <= 16
        assert ds.pixel_array.max() < 2**ds.BitsStored
        assert "RescaleSlope" in ds and "WindowCenter" in ds
        photometrics.add(ds.PhotometricInterpretation)
    assert photometrics == {"MONOCHROME1", "MONOCHROME2"}
    for name in ("labels.csv", "annotations.yaml", "crops.yaml"):
        assert (out_a / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    crops = yaml.safe_load((out_a / "crops.yaml").read_text())["images"]
    assert set(crops) == {i.image_id for i in images}
    labels = (out_a / "labels.csv").read_text().splitlines()
    assert labels[0] == "image,file,status" and len(labels) == 7
