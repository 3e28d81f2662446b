"""Score: from fragments to calibrated, evaluated anomaly scores.

Owns the scorer interface and its registry (:mod:`.scorers`: every scorer, the thesis's
statistics, the residual-map filters, the training-free baseline and the combined scores,
is one object there), the per-image scoring pass (:mod:`.scoring`) and its building blocks
(:mod:`.residual` maps and marker masks, :mod:`.texture` predictor and line filters,
:mod:`.baseline` median filter, :mod:`.statistics` of the thesis), the detection metrics
(:mod:`.metrics`), and labelling, calibration and evaluation against annotations
(:mod:`.evaluation`).

May import: the package root, :mod:`weld_anomaly.ingest` and :mod:`weld_anomaly.model`.
"""
