"""Report: what a person reads.

Owns the HTML report and the experiments page (:mod:`.html`, Jinja templates in
``templates/``), the weld viewer's pages and the operator's review (:mod:`.viewer`), every
figure in them (:mod:`.figures`: marked crops, close-ups, curves, histograms), and the
findings as DICOM presentation states (:mod:`.dicom_findings`). It reads the files the
earlier stages wrote and computes no scores itself.

May import: the package root, :mod:`weld_anomaly.ingest`, :mod:`weld_anomaly.model` and
:mod:`weld_anomaly.score`.
"""
