import json

import numpy as np
import pandas as pd
from conftest import TRAIN_INFO

from weld_anomaly.ingest import hdf5_io
from weld_anomaly.ingest.inventory import ImageRecord, to_csv
from weld_anomaly.ingest.manifests import Annotation
from weld_anomaly.report import figures
from weld_anomaly.report.html import render_report
from weld_anomaly.score.statistics import COLUMNS


def test_marked_crop_draws_flags_and_defects():
    from io import BytesIO

    from PIL import Image

    png = figures.marked_crop(
        np.full((100, 200), 128, np.uint8),
        10,
        20,
        np.array([[10, 20]]),
        64,
        [Annotation(120, 50, 10, 10, "likely")],
        max_width=200,
    )
    image = np.asarray(Image.open(BytesIO(png)))
    assert image.shape == (100, 200, 3)
    assert tuple(image[0, 30]) == figures.FLAG_COLOUR
    assert tuple(image[38, 100]) == figures.SEVERITY_COLOURS["likely"]


def test_a_marker_left_out_is_tinted_and_a_lone_speck_is_not():
    from io import BytesIO

    from PIL import Image

    masked = np.zeros((100, 200), dtype=bool)
    masked[10:40, 10:60] = True  # a lead numeral: 1,500 px
    masked[70:78, 150:158] = True  # a speck's grown mask: 64 px
    png = figures.marked_crop(
        np.full((100, 200), 128, np.uint8), 0, 0, np.zeros((0, 2), int), 64, [],
        max_width=200, masked=masked,
    )  # fmt: skip
    image = np.asarray(Image.open(BytesIO(png))).astype(int)
    assert image[20, 30, 2] > image[20, 30, 0]  # tinted blue
    assert tuple(image[74, 154]) == (128, 128, 128)  # left as it is


def _render(tmp_path, images_csv: str, **options) -> str:
    """Render a report of two images (validation v1, test t1) with this results/images.csv;
    returns the HTML."""
    records = [
        ImageRecord("v1", "v", "nonfaulty", "validation"),
        ImageRecord("t1", "t", "faulty", "test"),
    ]
    (tmp_path / "manifest.csv").write_text(to_csv(records))
    rows = []
    for image, split in (("v1", "validation"), ("t1", "test")):
        for i in range(4):
            rows.append(
                {
                    "image": image,
                    "fragment": i,
                    "crop": "weld",
                    "y": 0,
                    "x": 32 * i,
                    **{c: float(i) for c in COLUMNS},
                    "baseline": float(i),
                    "split": split,
                    "status": "x",
                    "label": "likely" if (image, i) == ("t1", 3) else "none",
                    "flagged": i == 3,
                }
            )
    pd.DataFrame(rows).to_csv(tmp_path / "frags.csv", index=False)
    metrics = {
        "target_fpr": 0.01,
        "flag_statistic": "mse",
        "thresholds": {c: 2.5 for c in [*COLUMNS, "baseline"]},
        "achieved_fpr_on_test_normals": {c: 0.0 for c in [*COLUMNS, "baseline"]},
        "counts": {"test_labels": {"none": 3, "likely": 1}},
        "flag_statistic_chosen_by": "default",  # the evaluation writes a sentence here
        "direction": {c: "high" for c in [*COLUMNS, "baseline"]},
        "adaptive_k": 5.0,
        "adaptive": {"achieved_fpr_on_test_normals": 0.01},
        "scorers": {},
    }
    (tmp_path / "m.json").write_text(json.dumps(metrics))
    (tmp_path / "t.json").write_text(json.dumps(TRAIN_INFO))
    (tmp_path / "h.csv").write_text("epoch,loss,val_loss\n0,0.1,0.2\n")
    hdf5_io.write_crops(
        tmp_path / "t1.h5",
        "t1",
        [hdf5_io.Crop("weld", 0, 0, 160, 64, np.zeros((64, 160), np.uint8))],
        {},
    )
    (tmp_path / "images.csv").write_text(images_csv)
    render_report(
        tmp_path / "manifest.csv",
        tmp_path / "images.csv",
        tmp_path / "frags.csv",
        tmp_path / "m.json",
        tmp_path / "t.json",
        tmp_path / "h.csv",
        [tmp_path / "t1.h5"],
        None,
        {"note": "<script>alert(1)</script>"},
        tmp_path / "r.html",
        tmp_path / "fig",
        size=64,
        **options,
    )
    return (tmp_path / "r.html").read_text()


def test_report_is_self_contained_and_escapes_text(tmp_path):
    html = _render(
        tmp_path,
        "image,status,split,rejected,error_class,error\n"
        "v1,nonfaulty,validation,False,,\nt1,faulty,test,False,,\n"
        "x9,faulty,test,True,Truncated,x9.dcm: the file is empty. Copy it again.\n",
    )
    assert (
        "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    )
    assert "http://" not in html and "https://" not in html.replace("https://json-schema", "")
    assert (
        html.count("data:image/png;base64,") == 3
    )  # loss, scatter, one crop (no ROC without labels)
    assert sorted(p.name for p in (tmp_path / "fig").iterdir()) == [
        "loss.png",
        "roc.png",
        "scatter.png",
    ]


def test_quality_section_lists_the_shown_and_the_remarked_images_only(tmp_path):
    """report.quality_images bounds the Data quality section for large archives: the images
    given with previews get a row, and every rejected or remarked-on image (read from
    results/images.csv, not from each image's file) gets one and a warning."""
    from PIL import Image

    Image.new("L", (40, 20), 128).save(tmp_path / "t1.png")
    html = _render(
        tmp_path,
        "image,status,split,rejected,error_class,error,window_method,window_lo,window_hi,note\n"
        "v1,nonfaulty,validation,False,,,percentile,0,4095,\n"
        "t1,faulty,test,False,,,header,0,4095,\n"
        "w1,nonfaulty,train,False,,,header-fallback-percentile,0,4095,\n"
        "n1,nonfaulty,train,False,,,header,0,4095,Presentation LUT Shape INVERSE disagrees\n"
        "x9,faulty,test,True,Truncated,x9.dcm: the file is empty. Copy it again.,,,,\n",
        previews=[tmp_path / "t1.png"],
    )
    table = html[html.index('id="quality-table"') : html.index('id="quality-unlisted"')]
    listed = {i for i in ("v1", "t1", "w1", "n1", "x9") if f"<td>{i}</td>" in table}
    assert listed == {"t1", "w1", "n1", "x9"}
    assert "1 more radiograph(s) converted without remark are not listed" in html
    assert 'alt="crops of t1"' in html
    assert "w1: the header window did not fit the data" in html
    assert "n1: Presentation LUT Shape INVERSE disagrees" in html


def test_the_report_says_which_scorer_flags_and_why(tmp_path):
    """The evaluation's one-sentence reason is the report's, in the overview, escaped."""
    html = _render(tmp_path, "image,status,split,rejected,error_class,error\n")
    choice = html[html.index('id="flag-choice"') :]
    choice = choice[: choice.index("</p>")]
    assert "Which scorer flags, and why:" in choice and "default." in choice


def test_a_weld_too_poor_to_judge_is_marked_in_the_worklist_and_the_warnings(tmp_path):
    html = _render(
        tmp_path,
        "image,status,split,rejected,error_class,error,snr,snr_n,too_poor\n"
        "v1,nonfaulty,validation,False,,,80,170,False\n"
        "t1,faulty,test,False,,,3,6.5,True\n",
    )
    worklist = html[
        html.index('id="worklist-table"') : html.index(
            "</table>", html.index('id="worklist-table"')
        )
    ]
    assert worklist.count('class="too-poor"') == 1 and 't1</a> <span class="too-poor"' in worklist
    assert "t1: too poor to judge" in html
