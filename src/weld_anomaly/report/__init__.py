"""Report: what a person reads.

Owns the HTML report and the experiments page (:mod:`.html`, Jinja templates in
``templates/``) and every figure in them (:mod:`.figures`: marked crops, zooms, curves,
histograms). It reads the files the earlier stages wrote and computes no scores itself.

May import: the package root, :mod:`weld_anomaly.ingest`, :mod:`weld_anomaly.model` and
:mod:`weld_anomaly.score`.
"""
