"""Ingest: from radiograph files to the fragments the model sees.

Owns reading DICOM / PNG / TIFF files (:mod:`.dicom_io`), their conversion to 8- or 16-bit
grey levels (:mod:`.convert`), the image inventory and train / validation / test split
(:mod:`.inventory`), the user's YAML manifests of crops and annotations (:mod:`.manifests`),
finding the weld bead (:mod:`.suggest`), cutting crops and tiling them into fragments
(:mod:`.preprocess`, :mod:`.tiling`), the HDF5 files every later stage reads
(:mod:`.hdf5_io`), crop previews (:mod:`.previews`), the crop-manifest tools of the command
line (:mod:`.crop_tools`) and the one grey scale the scorers work on (:mod:`.normalize`).
The built-in demo's synthetic radiographs have their own subpackage,
:mod:`weld_anomaly.simulate`.

May import: the package root (``errors``, ``files``) only. Nothing here knows about the
model, scoring or the report.
"""
