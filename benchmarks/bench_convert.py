"""Conversion throughput: a 16-bit 3000×5000 radiograph, uncompressed and JPEG 2000.

Baseline: pydicom's bare ``pixel_array`` decode of the same file, in the same process, so
the ratio shows what checking, rescaling, windowing and writing the HDF5 cost on top of
decoding. Usage::

    .venv/bin/python benchmarks/bench_convert.py [--repeat 5]

Prints one Markdown table row per case (median of the repeats).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from timing import host_line, timed  # noqa: E402  (benchmarks/, the script's own folder)


def make_files(folder: Path) -> dict[str, Path]:
    import openjpeg
    import pydicom
    from dicom_factory import write_dicom, write_encapsulated
    from pydicom.uid import JPEG2000Lossless

    from weld_anomaly.simulate import demo

    settings = demo.DemoSettings(
        films=0, pipe_films=0, faulty_films=1, faulty_crops=0, film_size=(3000, 5000), seed=11
    )
    image = demo.plan(settings)[0]
    display = demo.render(settings, image).grey / 255.0
    native = write_dicom(folder / "native.dcm", display, bits_stored=16)
    stored = pydicom.dcmread(native).pixel_array
    j2k = write_encapsulated(
        folder / "j2k.dcm",
        openjpeg.encode(stored, bits_stored=16),
        JPEG2000Lossless,
        bits_stored=16,
        Rows=3000,
        Columns=5000,
    )
    return {"uncompressed": native, "JPEG 2000 lossless": j2k}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(host_line(), flush=True)

    from pydicom.pixels import pixel_array

    from weld_anomaly.ingest.convert import ConvertSettings
    from weld_anomaly.ingest.preprocess import convert_image

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = make_files(folder)
        print(
            "| file | size MB | pydicom pixel_array s | convert_image s | ratio | MB/s | images/s |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name, path in files.items():
            size_mb = path.stat().st_size / 1e6
            decode = timed(lambda p=path: pixel_array(p), args.repeat)
            full = timed(
                lambda p=path: convert_image(p, folder / "out.h5", ConvertSettings(), "bench"),
                args.repeat,
            )
            assert np.asarray(pixel_array(path)).shape == (3000, 5000)
            print(
                f"| {name} | {size_mb:.1f} | {decode:.3f} | {full:.3f} | {full / decode:.2f} | "
                f"{size_mb / full:.1f} | {1 / full:.2f} |"
            )
        print()
        print("| JPEG 2000 decoder plugin | pixel_array s |")
        print("| --- | --- |")
        from pydicom.pixels import get_decoder
        from pydicom.uid import JPEG2000Lossless

        path = files["JPEG 2000 lossless"]
        for plugin in get_decoder(JPEG2000Lossless).available_plugins:
            seconds = timed(lambda g=plugin: pixel_array(path, decoding_plugin=g), args.repeat)
            print(f"| {plugin} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
