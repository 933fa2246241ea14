"""IDX reader/writer: round trips of every type, gzip, and clear errors on corrupt files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from gdstudio.train.idx import IdxError, read_idx, write_idx


@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_round_trip(tmp_path, dtype, name):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = tmp_path / name
    write_idx(path, arr)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(back, arr)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")


def test_header_layout_is_the_mnist_one(tmp_path):
    """Checked against the format by hand: magic 0x00000801 for uint8 1-D, then the big-endian size."""
    path = tmp_path / "labels"
    write_idx(path, np.array([7, 2, 1], np.uint8))
    assert path.read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])
    path.write_bytes(bytes([0, 0, 0x0C, 2, 0, 0, 0, 1, 0, 0, 0, 2]) + (258).to_bytes(4, "big") + (-1).to_bytes(
        4, "big", signed=True))
    np.testing.assert_array_equal(read_idx(path), [[258, -1]])


def test_gzip_detected_by_content_not_name(tmp_path):
    path = tmp_path / "plain-name"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 2, 5, 6])))
    np.testing.assert_array_equal(read_idx(path), [5, 6])


@pytest.mark.parametrize("raw, message", [
    (b"", "Truncated IDX file .*0 bytes"),
    (bytes([0, 0, 8]), "Truncated IDX file .*3 bytes"),
    (bytes([1, 0, 8, 1, 0, 0, 0, 1, 0]), "Bad IDX magic number 0x01000801"),
    (bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 0]), "Bad IDX magic number 0x00000a01"),
    (bytes([0, 0, 8, 0]), "Bad IDX magic number 0x00000800"),
    (bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0]), "header needs 16 bytes for 3 dimensions"),
    (bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(5),
     r"shape \(2, 3\) of uint8 needs 6 data bytes, the file has 5"),
    (bytes([0, 0, 8, 1, 0, 0, 0, 2]) + bytes(3), "1 bytes beyond the data"),
    (bytes([0, 0, 0x0D, 1, 0, 0, 0, 2]) + bytes(7), "needs 8 data bytes, the file has 7"),
])
def test_corrupt_files_are_rejected(tmp_path, raw, message):
    path = tmp_path / "bad.idx"
    path.write_bytes(raw)
    with pytest.raises(IdxError, match=message):
        read_idx(path)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "cut.gz"
    data = gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 200]) + bytes(range(200)))
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IdxError, match="Corrupt or truncated gzip data"):
        read_idx(path)


def test_wrong_dimension_count(tmp_path):
    path = tmp_path / "img.idx"
    write_idx(path, np.zeros((2, 3), np.uint8))
    with pytest.raises(IdxError, match=r"Wrong IDX dimensions .*2-D with shape \(2, 3\), expected 3-D"):
        read_idx(path, ndim=3)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(IdxError, match="IDX file not found"):
        read_idx(tmp_path / "nope")
    with pytest.raises(IdxError, match="is a folder"):
        read_idx(tmp_path)


def test_writer_rejects_unsupported_dtypes(tmp_path):
    with pytest.raises(ValueError, match="Invalid array dtype for IDX: int64"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))
