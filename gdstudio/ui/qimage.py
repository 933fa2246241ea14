"""QImage → NumPy: one function for the pixels of a QImage as an (H, W, C) uint8 array."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

__all__ = ["image_to_rgb", "qimage_array"]

#: Bytes per pixel of the formats read here (C of the (H, W, C) array).
_CHANNELS = {
    QImage.Format.Format_RGBA8888: 4,
    QImage.Format.Format_RGBA8888_Premultiplied: 4,
    QImage.Format.Format_RGB32: 4,  # B, G, R, 0xff in memory (little-endian)
    QImage.Format.Format_ARGB32: 4,  # B, G, R, A in memory (little-endian)
    QImage.Format.Format_ARGB32_Premultiplied: 4,
    QImage.Format.Format_RGB888: 3,
    QImage.Format.Format_Grayscale8: 1,
}


def qimage_array(image: QImage, fmt: QImage.Format = QImage.Format.Format_RGBA8888, *,
                 copy: bool = True) -> np.ndarray:
    """The pixels of ``image`` in format ``fmt`` as an (H, W, C) uint8 array (row 0 at the top).

    With ``copy`` (the default) the array owns its memory. ``copy=False`` returns a view of the
    image's own buffer (no conversion: ``image`` must already be in ``fmt``; keep ``image`` alive
    and unchanged while the view is used).
    """
    channels = _CHANNELS.get(fmt)
    if channels is None:
        raise ValueError(f"Invalid fmt value: {fmt!r} (one of {', '.join(f.name for f in _CHANNELS)})")
    if image.isNull():
        return np.zeros((0, 0, channels), np.uint8)
    if image.format() == fmt:
        img = image
    elif copy:
        img = image.convertToFormat(fmt)
    else:
        raise ValueError(f"Invalid image format: {image.format().name} (a view needs {fmt.name}; use copy=True)")
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    rows = np.frombuffer(img.constBits(), np.uint8, count=h * bpl).reshape(h, bpl)
    arr = rows[:, : channels * w].reshape(h, w, channels)
    return arr.copy() if copy else arr


def image_to_rgb(image: QImage) -> np.ndarray:
    """An (H, W, 3) uint8 RGB copy of a QImage (any format)."""
    return qimage_array(image, QImage.Format.Format_RGB888)
