"""The README's weld-finder picture: suggestions on realistic films of each kind.

.venv/bin/python docs/make_finder_previews.py     # writes docs/weld-finder.png
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from weld_anomaly.ingest.suggest import suggest_crops
from weld_anomaly.simulate import films

CASES = [
    ("film", (1300, 4984), 100, "", "tilted film, lettering, edge strips"),
    ("film", (1300, 4984), 101, "", "arc-shaped weld: boxes along it"),
    ("film", (1300, 4984), 100, "wide", "wide bead, lettering rows outside"),
    ("film", (1300, 4984), 103, "rough", "rough bead: boxes follow it"),
    ("pipe", (1300, 4984), 100, "", "double-wall pipe film: the ring"),
    ("pipe", (1300, 4984), 100, "flat", "pipe film, the ring's arcs merged"),
    ("crop", (716, 4966), 100, "", "weld crop: left whole"),
]
WIDTH = 1200


def main() -> None:
    rows = []
    for kind, size, seed, style, title in CASES:
        radiograph = films.render([seed, 7], kind, *size, 0, style=style)
        pixels = np.clip(np.rint(radiograph.grey), 0, 255).astype(np.uint8)
        crops = suggest_crops(pixels, title, fragment_size=64)
        f = WIDTH / size[1]
        image = Image.fromarray(pixels).convert("RGB").resize((WIDTH, round(size[0] * f)))
        draw = ImageDraw.Draw(image)
        truth = radiograph.weld_region()
        step = max(1, int(1 / f))
        edge = (truth ^ np.roll(truth, 1, axis=0))[::step, ::step]  # the true region's outline
        for y, x in zip(*np.nonzero(edge), strict=True):
            draw.point((x * step * f, y * step * f), (0, 255, 0))
        for c in crops:
            box = [c.x * f, c.y * f, (c.x + c.width) * f - 1, (c.y + c.height) * f - 1]
            draw.rectangle(box, outline=(0, 200, 255), width=2)
        draw.text((8, 6), f"{title}: {', '.join(c.name for c in crops)}", fill=(255, 255, 0))
        rows.append(image)
    out = Image.new("RGB", (WIDTH, sum(r.height for r in rows) + 6 * len(rows)), (20, 20, 20))
    y = 0
    for r in rows:
        out.paste(r, (0, y))
        y += r.height + 6
    out.save(Path(__file__).parent / "weld-finder.png", optimize=True)


if __name__ == "__main__":
    main()
