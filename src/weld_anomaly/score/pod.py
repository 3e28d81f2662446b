"""Probability of detection (POD) against defect size, from hit/miss data.

The method of MIL-HDBK-1823A for hit/miss inspections: every annotated defect of the test
images is a target, hit when a flagged fragment holds one of its pixels (at the calibrated
threshold), missed otherwise. POD is fitted against the logarithm of the defect's size (its
longest extent, in mm when the images' pixel size is known) with a logit link by maximum
likelihood (statsmodels' binomial GLM). Reported: a50 and a90 (the sizes found with 50 % and
90 % probability) and a90/95, the size at which the one-sided 95 % lower confidence bound of
the POD curve (Wald band on the linear predictor) reaches 90 %: the size a lab can claim is
found at least 90 % of the time with 95 % confidence. With fewer than
:data:`MIN_TARGETS` targets (the handbook's rule of thumb), or a fit that fails, the result
says so.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

MIN_TARGETS = 60  # MIL-HDBK-1823A's rule of thumb for hit/miss data
Z95 = 1.6448536269514722  # one-sided 95 %
LOGIT90 = math.log(0.9 / 0.1)


def fit(sizes: np.ndarray, hits: np.ndarray, unit: str) -> dict:
    """The POD fit of hit/miss ``hits`` (bool) against ``sizes`` (> 0, in ``unit``).

    Returns the figures (``a50``, ``a90``, ``a90_95``; None where they cannot be given),
    the coefficients and their covariance, the number of targets and hits, a ``curve``
    (sizes, POD, its 95 % lower bound) for the figure, and ``warnings`` in plain words."""
    sizes = np.asarray(sizes, dtype=np.float64)
    hits = np.asarray(hits, dtype=bool)
    keep = np.isfinite(sizes) & (sizes > 0)
    sizes, hits = sizes[keep], hits[keep]
    out: dict = {
        "unit": unit,
        "targets": int(len(sizes)),
        "hits": int(hits.sum()),
        "link": "logit",
        "size": "longest extent of each defect",
        "a50": None,
        "a90": None,
        "a90_95": None,
        "converged": False,
        "warnings": [],
    }
    if len(sizes) < MIN_TARGETS:
        out["warnings"].append(
            f"only {len(sizes)} annotated defects: MIL-HDBK-1823A asks for at least "
            f"{MIN_TARGETS} hit/miss targets; treat these figures as indicative"
        )
    if len(sizes) < 3 or hits.all() or not hits.any() or np.ptp(np.log(sizes)) == 0:
        out["warnings"].append(
            "no POD curve: every defect was "
            + ("found" if len(sizes) and hits.all() else "missed" if len(sizes) else "absent")
            + (" (or all have one size)" if len(sizes) >= 3 else "")
        )
        return out
    if sizes[hits].min() > sizes[~hits].max():
        out["warnings"].append(
            f"hits and misses separate completely by size (every defect over "
            f"{sizes[~hits].max():.3g} {unit} found, none under {sizes[hits].min():.3g} {unit} "
            "missed): no curve can be fitted; annotate more defects of sizes in between"
        )
        return out
    try:
        params, cov, converged = _glm(np.log(sizes), hits)
    except ValueError as exc:  # perfect separation, a singular design
        out["warnings"].append(f"the POD fit failed ({exc}): no curve")
        return out
    b0, b1 = (float(v) for v in params)
    out.update(converged=converged, coefficients=[b0, b1], covariance=cov.tolist())
    if not converged:
        out["warnings"].append("the POD fit did not converge (hits and misses separate by size)")
        return out
    if b1 <= 0:
        out["warnings"].append("POD does not rise with defect size here: no a50 or a90")
        return out
    return _figures(out, b0, b1, cov, np.log(sizes))


def _glm(x: np.ndarray, hits: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Coefficients, covariance and convergence of the logit fit of ``hits`` on ``x``."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = sm.GLM(hits.astype(float), sm.add_constant(x), family=sm.families.Binomial())
            result = model.fit()
    except (np.linalg.LinAlgError, PerfectSeparationError) as exc:
        raise ValueError(type(exc).__name__) from None
    params = np.asarray(result.params, dtype=np.float64)
    cov = np.asarray(result.cov_params(), dtype=np.float64)
    return params, cov, bool(result.converged) and bool(np.all(np.isfinite(cov)))


def _figures(out: dict, b0: float, b1: float, cov: np.ndarray, x: np.ndarray) -> dict:
    """a50, a90 and a90/95 of a rising fit, and the curve with its lower bound."""
    out["a50"] = float(math.exp(-b0 / b1))
    out["a90"] = float(math.exp((LOGIT90 - b0) / b1))
    grid = np.linspace(x.min() - 1.0, max(x.max(), math.log(out["a90"])) + 2.0, 400)
    eta = b0 + b1 * grid
    se = np.sqrt(np.maximum(cov[0, 0] + 2 * grid * cov[0, 1] + grid**2 * cov[1, 1], 0.0))
    lower = eta - Z95 * se
    reached = np.nonzero((lower >= LOGIT90) & (grid >= math.log(out["a90"])))[0]
    if len(reached):
        out["a90_95"] = float(math.exp(grid[reached[0]]))
    else:
        out["warnings"].append(
            "the 95 % lower bound does not reach 90 % within the sizes seen: no a90/95"
        )
    from scipy.special import expit

    # figures outside the sizes annotated are extrapolations: said as bounds, not numbers
    smallest, largest = float(np.exp(x.min())), float(np.exp(x.max()))
    out.update(smallest=smallest, largest=largest)
    for key in ("a50", "a90", "a90_95"):
        value = out[key]
        if value is not None and not smallest <= value <= largest:
            out[key] = None
            out[f"{key}_outside"] = "below" if value < smallest else "above"

    shown = grid <= x.max() + 0.7
    out["curve"] = {
        "size": np.exp(grid[shown]).round(5).tolist(),
        "pod": expit(eta[shown]).round(5).tolist(),
        "lower_95": expit(lower[shown]).round(5).tolist(),
    }
    return out


def size_text(result: dict, key: str) -> str:
    """``a50``, ``a90`` or ``a90_95`` of a fit in words: a size, a bound, or '–'."""
    unit = result["unit"]

    def number(value: float) -> str:
        return f"{value:.2f} {unit}" if unit == "mm" else f"{value:.0f} {unit}"

    value, outside = result.get(key), result.get(f"{key}_outside")
    if outside == "below":
        return f"under {number(result['smallest'])} (the smallest defect annotated)"
    if outside == "above":
        return f"over {number(result['largest'])} (the largest defect annotated)"
    return "–" if value is None else number(value)


def summary(result: dict) -> str:
    """One plain sentence of a fit's figures and warnings."""
    a50, a90, a90_95 = (size_text(result, k) for k in ("a50", "a90", "a90_95"))
    text = (
        f"{result['hits']} of {result['targets']} annotated defects found; "
        f"a50 {a50}, a90 {a90}, a90/95 {a90_95}"
    )
    return text + "".join(f"; {w}" for w in result["warnings"])
