"""How the built-in demo compares with real weld films, scorer by scorer.

The demo (:mod:`weld_anomaly.simulate.demo`) is the project's yardstick only if the scorers
rank on it as they rank on real films. :data:`REAL_FILMS` holds what the project's scorers
scored on held-out real weld films (the release of 2026-12-04, default configuration:
trained on 12 "non-faulty" films, tested on 7 annotated weld crops, 23,951 fragments, 10.5 %
positive; the standard protocol: a fragment holding any defect-mask pixel is positive,
every fragment of the annotated images counts). :func:`compare` sets a run's figures beside
them; the demo's ``flaw_contrast`` and ``dense_crops`` are set so that the named scorers
land within :data:`TOLERANCE` (``mse``: below chance, as on real films).
"""

from __future__ import annotations

import math

# scorer: (test AUROC, recall at 1 % false-positive rate) on the held-out real films
REAL_FILMS = {
    "baseline": (0.922, 0.632),
    "residual_s5": (0.899, 0.501),
    "residual_multiscale": (0.899, 0.383),
    "detector": (0.887, 0.569),
    "fused": (0.880, 0.599),
    "contrast_s1p5": (0.872, 0.601),
    "recon_sum": (0.712, 0.021),
    "mse": (0.347, 0.000),
}
# the scorers the demo is calibrated on (AUROC within TOLERANCE of the real figure), and the
# one that must stay below chance
CALIBRATED = ("baseline", "residual_s5", "detector", "contrast_s1p5", "recon_sum")
BELOW_CHANCE = ("mse",)
TOLERANCE = 0.03


def compare(evaluation: dict, part: str = "test_annotated_images") -> list[dict]:
    """One row per scorer with real figures: the run's standard-protocol AUROC and recall at
    1 % FPR beside the real films', the difference, and whether it is within the bar."""
    table = evaluation["any_pixel"][part]
    rows = []
    for scorer, (auroc, recall) in REAL_FILMS.items():
        if scorer not in table:
            continue
        ours = table[scorer]
        diff = ours["auroc"] - auroc
        if scorer in CALIBRATED:
            ok = abs(diff) <= TOLERANCE
        elif scorer in BELOW_CHANCE:
            ok = ours["auroc"] < 0.5
        else:
            ok = None  # shown, not calibrated
        rows.append(
            {
                "scorer": scorer,
                "demo_auroc": ours["auroc"],
                "demo_recall_1pct": ours["recall_at_fpr_1pct"],
                "real_auroc": auroc,
                "real_recall_1pct": recall,
                "difference": diff,
                "calibrated": ok,
            }
        )
    return rows


def markdown(rows: list[dict]) -> str:
    """The rows as the table of docs/evaluation.md."""

    def mark(ok) -> str:
        return "" if ok is None else (" ✓" if ok else " ✗")

    lines = [
        "| scorer | demo: AUROC / recall@1 % | real films: AUROC / recall@1 % | difference |",
        "|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['scorer']}` | {r['demo_auroc']:.3f} / {r['demo_recall_1pct']:.3f} | "
            f"{r['real_auroc']:.3f} / {r['real_recall_1pct']:.3f} | "
            f"{r['difference']:+.3f}{mark(r['calibrated'])} |"
        )
    return "\n".join(lines)


def ranks_like_real_films(rows: list[dict]) -> bool:
    """Whether the calibrated scorers come in the real films' order (ties within 0.01)."""
    ordered = sorted((r for r in rows if r["scorer"] in CALIBRATED), key=lambda r: -r["real_auroc"])
    return all(
        a["demo_auroc"] >= b["demo_auroc"] - 0.01 or math.isclose(a["real_auroc"], b["real_auroc"])
        for a, b in zip(ordered, ordered[1:], strict=False)
    )
