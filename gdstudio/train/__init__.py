"""The Training lab core (NumPy only, no Qt): an MLP trained by every optimizer on real digits.

- :mod:`gdstudio.train.mlp` — the network (ReLU, He init, softmax cross-entropy, backprop).
- :mod:`gdstudio.train.datasets` — bundled 8×8 digits, MNIST from IDX files or the download cache.
- :mod:`gdstudio.train.compare` — the fair race (same start, same batches), smoothing.
- :mod:`gdstudio.train.plot` — a PNG of the curves with Pillow; :mod:`gdstudio.train.cli` — ``gdstudio train``.
"""
