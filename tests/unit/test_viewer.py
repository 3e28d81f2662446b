"""The weld viewer's pages (report/viewer.py); the browser test drives them in Chromium."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from weld_anomaly.ingest import hdf5_io
from weld_anomaly.report import viewer


def test_page_names_are_safe_and_unique():
    ids = ['"><img src=x onerror=alert(1)>', "weld 1", "weld_1", "WELD_1", "../../etc", "é"]
    names = viewer.page_names(ids)
    assert len(set(n.lower() for n in names.values())) == len(ids)
    for name in names.values():
        assert re.fullmatch(r"[A-Za-z0-9_.-]+\.html", name), name
        assert not name.startswith(".")


def test_script_json_cannot_close_its_script_element():
    text = viewer.script_json({"image": "</script><script>alert(1)</script>", "u": "\u2028"})
    assert "<" not in text and ">" not in text and "\u2028" not in text
    assert json.loads(text)["image"] == "</script><script>alert(1)</script>"


def finding(x, y, w, h, **extra) -> dict:
    return {"x": x, "y": y, "width_px": w, "height_px": h, "centre_x": x + w / 2,
            "centre_y": y + h / 2, **extra}  # fmt: skip


@pytest.mark.parametrize(
    ("f", "inside"),
    [
        (finding(100, 40, 32, 32), (100, 40, 32, 32)),  # small: padded, at least 64
        (finding(0, 0, 64, 32), (0, 0, 64, 32)),  # at the crop's corner: kept inside
        (finding(50, 10, 2000, 64), None),  # longer than the cap: its centre, 512 wide
    ],
)
def test_closeups_hold_the_finding_inside_the_crop(f, inside):
    crop = hdf5_io.Crop("weld", 0, 0, 3000, 200, np.zeros((200, 3000), np.uint8))
    x, y, w, h = viewer.closeup_box(f, crop)
    assert x >= 0 and y >= 0 and x + w <= 3000 and y + h <= 200
    assert min(w, h) >= viewer.CLOSEUP_MIN and max(w, h) <= viewer.CLOSEUP_MAX
    if inside:
        fx, fy, fw, fh = inside
        assert x <= fx and y <= fy and fx + fw <= x + w and fy + fh <= y + h
    else:
        assert w == viewer.CLOSEUP_MAX and abs(x + w / 2 - f["centre_x"]) <= 1


def test_closeup_is_native_resolution_image_reconstruction_residual():
    import base64
    import io

    from PIL import Image

    pixels = np.full((100, 300), 120, np.uint8)
    pixels[40:46, 150:156] = 40  # a pore
    crop = hdf5_io.Crop("weld", 10, 20, 300, 100, pixels)
    recon = hdf5_io.Crop("weld", 10, 20, 300, 100, np.full((100, 300), 120, np.uint8))
    out = viewer.closeup(finding(150, 50, 16, 16), crop, recon)
    png = base64.b64decode(out["uri"].split(",", 1)[1])
    with Image.open(io.BytesIO(png)) as image:  # three panels, each 2× the box
        assert image.size == (3 * 2 * out["width"] + 2 * 2 * 3, 2 * out["height"])
    assert "reconstruction" in out["panels"]
    alone = viewer.closeup(finding(150, 50, 16, 16), crop, None)
    assert alone["panels"] == "image"


def test_film_from_crops_places_each_crop():
    crops = [
        hdf5_io.Crop("a", 0, 0, 4, 2, np.full((2, 4), 7, np.uint8)),
        hdf5_io.Crop("b", 6, 3, 2, 2, np.full((2, 2), 9, np.uint8)),
    ]
    film = viewer.film_from_crops(crops)
    assert film.shape == (5, 8) and film[0, 0] == 7 and film[4, 7] == 9 and film[4, 0] == 0


def test_without_the_viewer_the_pages_still_show_the_image(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(viewer.ENV_VIEWER, str(tmp_path / "missing.js"))
    pages = [{"file": "w.html", "body": "x"}]
    script = viewer.write_pages(tmp_path / "welds", pages, lambda p, ok: f"{p['body']} {ok}")
    assert script is None
    assert (tmp_path / "welds/w.html").read_text() == "x False"
    assert not (tmp_path / "welds/openseadragon.min.js").exists()
    assert "make viewer" in caplog.text


def test_the_installed_viewer_is_copied_beside_the_pages(tmp_path):
    if viewer.viewer_script() is None:
        pytest.fail("OpenSeadragon is not installed: run `make viewer` (make install does)")
    viewer.write_pages(tmp_path, [{"file": "w.html"}], lambda p, ok: str(ok))
    assert (tmp_path / "w.html").read_text() == "True"
    assert (tmp_path / "openseadragon.min.js").read_bytes().startswith(b"//! openseadragon")
    assert (tmp_path / "openseadragon-LICENSE.txt").is_file()


def test_windows_are_written_without_scientific_notation():
    from weld_anomaly.report.html import plain

    assert [plain(v) for v in (65535, -1000.5, 0, 12.5, 0.0123, 4095.0)] == [
        "65,535", "-1,000.5", "0", "12.5", "0.0123", "4,095",
    ]  # fmt: skip
