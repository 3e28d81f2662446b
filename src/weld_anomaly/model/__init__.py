"""Model: the convolutional autoencoder and how it is trained.

Owns the Keras 3 architecture (:mod:`.autoencoder`), the training batches with their
denoising corruption (:mod:`.batches`), the training loop with resume, checkpoints and
history (:mod:`.training`), and choosing the Keras backend and precision (:mod:`.backend`).
Backend-neutral: ``keras`` and ``keras.ops`` only, no ``tf.*``.

May import: the package root and :mod:`weld_anomaly.ingest` (the fragment files).
"""
