"""QImage → NumPy: the one conversion (formats, padding of rows, views vs copies)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage

from gdstudio.ui.qimage import image_to_rgb, qimage_array


def _image(w: int, h: int, fmt: QImage.Format) -> QImage:
    img = QImage(w, h, fmt)
    img.fill(QColor(0, 0, 0))
    for y in range(h):
        for x in range(w):
            img.setPixelColor(x, y, QColor(10 * x, 20 * y, 5 + x + y))
    return img


def _expected(w: int, h: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([10 * x, 20 * y, 5 + x + y], axis=-1).astype(np.uint8)


@pytest.mark.parametrize("fmt", [QImage.Format.Format_RGB32, QImage.Format.Format_ARGB32,
                                 QImage.Format.Format_RGBA8888, QImage.Format.Format_RGB888])
def test_rgb_of_any_format_with_padded_rows(qapp, fmt):
    img = _image(7, 5, fmt)  # 7 × 3 bytes is not a multiple of 4: RGB888 rows are padded
    rgb = image_to_rgb(img)
    assert rgb.shape == (5, 7, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb, _expected(7, 5))


def test_rgba_copy_and_view(qapp):
    img = _image(6, 4, QImage.Format.Format_RGBA8888)
    rgba = qimage_array(img)
    np.testing.assert_array_equal(rgba[..., :3], _expected(6, 4))
    assert (rgba[..., 3] == 255).all()
    view = qimage_array(img, copy=False)
    np.testing.assert_array_equal(view, rgba)
    assert not view.flags.owndata and rgba.flags.owndata
    rgb32 = _image(6, 4, QImage.Format.Format_RGB32)  # kept alive: the view reads its buffer
    bgra = qimage_array(rgb32, QImage.Format.Format_RGB32, copy=False)
    np.testing.assert_array_equal(bgra[..., 2::-1], _expected(6, 4))  # B, G, R, 0xff in memory


def test_bad_requests(qapp):
    img = _image(3, 3, QImage.Format.Format_RGB32)
    with pytest.raises(ValueError, match="Invalid image format: Format_RGB32"):
        qimage_array(img, copy=False)  # a view cannot convert
    with pytest.raises(ValueError, match="Invalid fmt value"):
        qimage_array(img, QImage.Format.Format_Mono)
    assert qimage_array(QImage()).shape == (0, 0, 4)
