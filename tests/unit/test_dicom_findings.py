"""Findings as a DICOM presentation state: references the source, carries the outlines,
passes a DICOM validator (dciodvfy, Debian's dicom3tools), leaks nothing identifying."""

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pydicom
import pytest

from weld_anomaly.report import dicom_findings
from weld_anomaly.score import findings
from weld_anomaly.simulate import demo


@pytest.fixture(scope="module")
def demo_film(tmp_path_factory):
    """One demo film as the workflow's generator writes it (DICOM with fake personal data)."""
    settings = demo.DemoSettings(film_size=(256, 768), crop_size=(192, 768))
    image = next(i for i in demo.plan(settings) if i.file_name.endswith(".dcm"))
    path = tmp_path_factory.mktemp("demo") / image.file_name
    demo.to_dicom(demo.render(settings, image), image, settings).save_as(
        path, enforce_file_format=True
    )
    return path, image.image_id


def test_findings_become_a_valid_presentation_state_on_the_source(demo_film, tmp_path):
    path, image_id = demo_film
    table = pd.DataFrame(
        {"image": image_id, "crop": "weld", "y": [64, 64, 96, 128], "x": [100, 132, 132, 600]}
    )
    found = findings.find(table, np.array([9.0, 6.0, 5.0, 3.4]), np.ones(4, bool), 3.0,
                          np.random.default_rng(0).normal(0, 1, 5000), 64, "fused")  # fmt: skip
    records = [json.loads(json.dumps(f.__dict__)) for f in found]
    out = tmp_path / "findings" / f"{image_id}.dcm"
    assert dicom_findings.write_presentation_state(path, records, image_id, out)

    state = pydicom.dcmread(out)
    source = pydicom.dcmread(path, stop_before_pixels=True)
    assert state.SOPClassUID == pydicom.uid.GrayscaleSoftcopyPresentationStateStorage
    referenced = state.ReferencedSeriesSequence[0]
    assert referenced.SeriesInstanceUID == source.SeriesInstanceUID
    assert referenced.ReferencedImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert state.StudyInstanceUID == source.StudyInstanceUID
    # every finding's outline, closed, in image pixels, on the layer of its confidence
    drawn = {}
    for annotation in state.GraphicAnnotationSequence:
        for item in annotation.GraphicObjectSequence:
            assert item.GraphicType == "POLYLINE" and item.GraphicAnnotationUnits == "PIXEL"
            points = np.asarray(item.GraphicData, dtype=float).reshape(-1, 2)
            assert (points[0] == points[-1]).all()
            drawn[annotation.GraphicLayer, tuple(map(tuple, points[:-1]))] = True
    for f in found:
        assert (f"FINDINGS_{f.confidence.upper()}", tuple(map(tuple, f.outline))) in drawn
    # each finding's label gives its size (in px here: find() was given no pixel size)
    labels = [t.UnformattedTextValue for a in state.GraphicAnnotationSequence
              for t in a.get("TextObjectSequence", [])]  # fmt: skip
    assert sorted(labels) == sorted(
        f"{f.finding} {f.confidence} {f.margin:.1f} SD {f.length_px}x{f.breadth_px} px"
        for f in found
    )
    # the L of three fragments, [x, y] in image pixels
    assert found[0].outline == [
        [196, 160],
        [132, 160],
        [132, 128],
        [100, 128],
        [100, 64],
        [196, 64],
    ]
    # nothing identifying from the source: the fake name, ID, birth date, lab, operator
    data = out.read_bytes()
    for value in ("DEMO^WELDER", source.PatientID, "19700101", "Demo Weld Inspection Lab",
                  "DEMO^INSPECTOR"):  # fmt: skip
        assert value.encode() not in data, value
    # a DICOM validator finds no error
    assert shutil.which("dciodvfy"), "dciodvfy missing: `make test` installs dicom3tools"
    check = subprocess.run(["dciodvfy", str(out)], capture_output=True, text=True)
    errors = [line for line in (check.stdout + check.stderr).splitlines() if "Error" in line]
    assert errors == [], errors


def test_no_presentation_state_for_a_png_or_an_image_without_findings(demo_film, tmp_path):
    path, image_id = demo_film
    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(50))
    assert not dicom_findings.write_presentation_state(png, [{"x": 1}], "x", tmp_path / "a.dcm")
    assert not dicom_findings.write_presentation_state(path, [], image_id, tmp_path / "b.dcm")
    assert not list(tmp_path.glob("*.dcm"))


def test_the_presentation_state_carries_the_audit_trail(demo_film, tmp_path):
    """What made the findings, in a layer of its own; still a valid object."""
    from weld_anomaly.provenance import record

    path, image_id = demo_film
    table = pd.DataFrame({"image": image_id, "crop": "weld", "y": [64], "x": [100]})
    found = findings.find(table, np.array([9.0]), np.ones(1, bool), 3.0,
                          np.random.default_rng(0).normal(0, 1, 500), 64, "detector")  # fmt: skip
    model = tmp_path / "detector.keras"
    model.write_bytes(b"weights")
    found = findings.with_provenance(found, record({"detector": model}, {"k": 1}), learned=True)
    records = [json.loads(json.dumps(f.__dict__)) for f in found]
    out = tmp_path / f"{image_id}.dcm"
    assert dicom_findings.write_presentation_state(path, records, image_id, out)
    state = pydicom.dcmread(out)
    layers = [layer.GraphicLayer for layer in state.GraphicLayerSequence]
    assert layers[-1] == "FINDINGS_AUDIT"
    (audit,) = [a for a in state.GraphicAnnotationSequence if a.GraphicLayer == "FINDINGS_AUDIT"]
    text = audit.TextObjectSequence[0].UnformattedTextValue
    assert text.startswith(found[0].software) and "scorer detector threshold 3" in text
    assert found[0].models in text and found[0].config_sha256 in text and found[0].evaluated in text
    check = subprocess.run(["dciodvfy", str(out)], capture_output=True, text=True)
    errors = [line for line in (check.stdout + check.stderr).splitlines() if "Error" in line]
    assert errors == [], errors
