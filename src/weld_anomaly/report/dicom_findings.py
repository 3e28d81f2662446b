"""Findings back into the lab's own viewer: a DICOM Grayscale Softcopy Presentation State.

For a DICOM radiograph, its findings (:mod:`weld_anomaly.score.findings`) become one
presentation state (GSPS) that references the source image by its SOP Instance UID: any
DICOM viewer that loads both shows each finding's outline (a closed polyline in image
pixels) and its label ("1 high 4.2 SD": number, confidence, standard deviations above the
threshold) over the radiograph. It is written with ``highdicom``,
which checks the object against the standard while building it.

No identifying data is carried over beyond the UIDs the reference needs: the source's
patient, study and equipment attributes are replaced by empty or generic values before
highdicom copies them (the patient module's type 2 attributes stay, empty), and the study
keeps only its Study Instance UID, so the GSPS still belongs to the source's study.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from weld_anomaly import __version__
from weld_anomaly.files import write_bytes

log = logging.getLogger(__name__)

# Attributes of the source kept in the reference copy: the UIDs, the image geometry and
# pixel description highdicom validates, nothing else.
KEPT = (
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "Modality",
    "Rows",
    "Columns",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
)
COLOURS = {"high": (255, 40, 40), "medium": (255, 150, 0), "low": (255, 230, 0)}


def reference_copy(source):
    """The source's header reduced to what a reference needs (no names, IDs or dates)."""
    import pydicom

    ref = pydicom.Dataset()
    for keyword in KEPT:
        if keyword in source:
            setattr(ref, keyword, source[keyword].value)
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"):
        setattr(ref, keyword, "")  # type 2: present, empty
    for keyword in ("StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID"):
        setattr(ref, keyword, "")
    ref.AccessionNumber = ""
    return ref


def presentation_state(source, findings: Sequence[dict], image_id: str):
    """A GSPS dataset with the outline and label of every finding of ``source``."""
    import highdicom as hd
    from highdicom.color import CIELabColor
    from pydicom.uid import generate_uid

    ref = reference_copy(source)
    layers = {
        level: hd.pr.GraphicLayer(
            layer_name=f"FINDINGS_{level.upper()}",
            order=order,
            description=f"weld-anomaly findings, {level} confidence",
            display_color=CIELabColor(*_lab(COLOURS[level])),
        )
        for order, level in enumerate(("high", "medium", "low"), start=1)
    }
    annotations = []
    for level, layer in layers.items():
        mine = [f for f in findings if f["confidence"] == level]
        if not mine:
            continue
        annotations.append(
            hd.pr.GraphicAnnotation(
                referenced_images=[ref],
                graphic_layer=layer,
                graphic_objects=[_outline(f) for f in mine],
                text_objects=[_label(f) for f in mine],
            )
        )
    audit = _audit(findings)
    if audit is not None:  # what made the findings, in a layer of its own (the audit trail)
        layers["audit"] = hd.pr.GraphicLayer(
            layer_name="FINDINGS_AUDIT",
            order=len(layers) + 1,
            description="what made these findings: software, models, configuration, date",
        )
        annotations.append(
            hd.pr.GraphicAnnotation(
                referenced_images=[ref], graphic_layer=layers["audit"], text_objects=[audit]
            )
        )
    # UIDs derived from the source and the findings: the same findings, the same object
    seed = [str(source.SOPInstanceUID), repr([(f["finding"], f["outline"]) for f in findings])]
    return hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=[ref],
        series_instance_uid=generate_uid(entropy_srcs=["weld-anomaly series", seed[0]]),
        series_number=900,
        sop_instance_uid=generate_uid(entropy_srcs=["weld-anomaly findings", *seed]),
        instance_number=1,
        manufacturer="weld-anomaly",
        manufacturer_model_name="weld-anomaly findings",
        software_versions=__version__,
        device_serial_number="0",
        content_label="WELD_FINDINGS",
        content_description=f"{len(findings)} finding(s) in {image_id}"[:64],
        graphic_layers=[
            layer for level, layer in layers.items() if level == "audit" or _has(findings, level)
        ],
        graphic_annotations=annotations,
    )


def _audit(findings: Sequence[dict]):
    """One text object of the findings' audit trail (they share it), or None without one."""
    import highdicom as hd

    if not findings or not findings[0].get("software"):
        return None
    f = findings[0]
    text = (
        f"{f['software']} commit {f.get('commit') or 'unknown'}; scorer {f['scorer']} "
        f"threshold {f['threshold']:.6g}; models {f.get('models') or 'none (training-free)'}; "
        f"config sha256 {f.get('config_sha256', '')}; {f.get('evaluated', '')}"
    )
    return hd.pr.TextObject(
        text_value=text.encode("ascii", "replace").decode()[:1024],
        units=hd.pr.AnnotationUnitsValues.PIXEL,
        anchor_point=(1.0, 1.0),
        anchor_point_visible=False,
    )


def _has(findings, level: str) -> bool:
    return any(f["confidence"] == level for f in findings)


def _outline(finding: dict):
    import highdicom as hd

    points = np.asarray(finding["outline"], dtype=np.float64)
    closed = np.vstack([points, points[:1]])  # a closed polyline: last point = first
    return hd.pr.GraphicObject(
        graphic_type=hd.pr.GraphicTypeValues.POLYLINE,
        graphic_data=closed,
        units=hd.pr.AnnotationUnitsValues.PIXEL,
    )


def _label(finding: dict):
    import highdicom as hd

    x = float(min(p[0] for p in finding["outline"]))
    y = float(min(p[1] for p in finding["outline"]))
    # ASCII only: the default character set of the object (no Specific Character Set)
    if finding.get("length_mm") is not None:
        size = f"{finding['length_mm']:.1f}x{finding['breadth_mm']:.1f} mm"
    else:
        size = f"{finding['length_px']}x{finding['breadth_px']} px"
    text = f"{finding['finding']} {finding['confidence']} {finding['margin']:.1f} SD {size}"
    return hd.pr.TextObject(
        text_value=text,
        units=hd.pr.AnnotationUnitsValues.PIXEL,
        anchor_point=(max(x, 0.0), max(y, 0.0)),
        anchor_point_visible=False,
    )


def _lab(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """CIELab (D65) of an sRGB colour, as the GSPS layer's display colour wants it."""
    c = np.asarray(rgb, dtype=np.float64) / 255
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = (
        np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
        @ c
        / np.array([0.95047, 1.0, 1.08883])
    )
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    lab = (116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2]))
    return (
        float(np.clip(lab[0], 0, 100)),
        float(np.clip(lab[1], -127, 128)),
        float(np.clip(lab[2], -127, 128)),
    )


def write_presentation_state(
    source_path: str | Path, findings: Sequence[dict], image_id: str, out_path: str | Path
) -> bool:
    """Write the GSPS of one image's findings; False (nothing written) when the source is not
    DICOM or the image has no findings."""
    import io

    import pydicom

    try:
        source = pydicom.dcmread(source_path, stop_before_pixels=True)
    except (pydicom.errors.InvalidDicomError, OSError):
        return False
    if not findings:
        return False
    state = presentation_state(source, findings, image_id)
    # General Series: Laterality is type 2C (dciodvfy wants it for an unknown body part);
    # a weld has none, so it is present and empty
    state.Laterality = ""
    buffer = io.BytesIO()
    state.save_as(buffer, enforce_file_format=True)
    write_bytes(out_path, buffer.getvalue())
    log.info("%s: %d finding(s) as a DICOM presentation state: %s", image_id, len(findings),
             out_path)  # fmt: skip
    return True


def export_findings(
    findings_json: str | Path, sources: dict[str, str | Path], out_dir: str | Path
) -> list[str]:
    """One presentation state per DICOM image with findings, ``<out_dir>/<image>.dcm``;
    returns the images written. PNG/TIFF sources get none (they have no UIDs to refer to)."""
    import json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    found: dict[str, list[dict]] = {}
    for f in json.loads(Path(findings_json).read_text())["findings"]:
        found.setdefault(f["image"], []).append(f)
    written = [
        image
        for image, source in sorted(sources.items())
        if write_presentation_state(source, found.get(image, []), image, out / f"{image}.dcm")
    ]
    log.info("%d DICOM presentation state(s) in %s", len(written), out)
    return written
