"""The film simulator: synthetic weld radiographs built from the measured statistics of real
films (``docs/real-films.md``), the project's yardstick.

- :mod:`.films`: whole films, double-wall pipe films and weld crops, in several styles;
- :mod:`.flaws`: the flaws painted on them (pores, clusters, chains, cracks, lack of fusion,
  ...), with their masks;
- :mod:`.demo`: the built-in demo archive (DICOM films, annotated PNG crops, labels,
  annotations, crop manifest), a pure function of its settings;
- :mod:`.calibration`: how the project's scorers score on the demo against real films.

It imports nothing of the workflow but the package's bedrock (``errors``, ``files``).
"""
