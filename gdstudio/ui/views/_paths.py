"""Path geometry of the views, Qt-free: segment clipping and incremental, thinned paths.

* :func:`clip_segments` — Liang–Barsky clipping of many segments against an axis-aligned box,
  vectorized over the segments, in any dimension. Segment ``a → b`` is ``a + t (b − a)``,
  ``t ∈ [0, 1]``; per axis the box bounds give ``t = (lo − a) / (b − a)`` and
  ``(hi − a) / (b − a)``; the visible part is ``[max of the entering t, min of the leaving t]``
  intersected with [0, 1] (empty: invisible). Any finite coordinates work: differences are
  taken of halves (no overflow), and the clipped points are kept inside the box.
* :class:`ClippedPath` — a growing path clipped to a box: points are appended as a run grows
  (each new point costs O(1), never O(history)); the clipped polyline is a vertex list with NaN
  rows where the path leaves the box and re-enters it; ``count[k]`` vertices belong to the path
  up to point k, so any shown step is a prefix.
* :class:`Thinning` — which vertices are worth drawing at a cell size (screen pixels for the
  contour, scene cells for 3-D), also incremental: a vertex in the same cell as one of the two
  before it is dropped; piece ends are kept.
* :class:`FirstInCell` — the first point in each cell (the contour's step dots), incremental.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ClippedPath", "FirstInCell", "Grow", "SegmentSet", "Thinning", "clip_segments", "inside_box"]

class Grow:
    """A growable array along axis 0."""

    def __init__(self, shape: tuple[int, ...], dtype=np.float64, capacity: int = 256) -> None:
        self.data = np.empty((capacity, *shape), dtype=dtype)
        self.n = 0

    def extend(self, rows: np.ndarray) -> None:
        m = len(rows)
        need = self.n + m
        if need > len(self.data):
            new = np.empty((max(need, 2 * len(self.data)), *self.data.shape[1:]), dtype=self.data.dtype)
            new[: self.n] = self.data[: self.n]
            self.data = new
        self.data[self.n : need] = rows
        self.n = need

    def view(self) -> np.ndarray:
        return self.data[: self.n]


def inside_box(p: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Rows of ``p`` (n, D) that are finite and within [lo, hi] on every axis."""
    with np.errstate(invalid="ignore"):
        return np.all((p >= lo) & (p <= hi), axis=-1)


def clip_segments(a: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clip segments ``a[i] → b[i]`` ((n, D) each) to the box [lo, hi] (Liang–Barsky).

    Returns (start, end, visible): the clipped endpoints (n, D) (``a`` / ``b`` themselves,
    bit for bit, where they are inside) and a mask of the segments with a visible part.
    Segments with a non-finite endpoint are invisible.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    n = a.shape[0]
    finite = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    with np.errstate(all="ignore"):
        # Halves: b/2 − a/2 and lo/2 − a/2 never overflow for finite coordinates.
        d2 = b / 2 - a / 2
        t_lo = (lo / 2 - a / 2) / d2
        t_hi = (hi / 2 - a / 2) / d2
        enter = np.where(d2 > 0, t_lo, np.where(d2 < 0, t_hi, -np.inf))
        leave = np.where(d2 > 0, t_hi, np.where(d2 < 0, t_lo, np.inf))
        parallel_out = (d2 == 0) & ((a < lo) | (a > hi))  # parallel to an axis, outside its slab
        t0 = np.maximum(enter.max(axis=1), 0.0) if n else np.empty(0)
        t1 = np.minimum(leave.min(axis=1), 1.0) if n else np.empty(0)
        visible = finite & (t0 <= t1) & ~parallel_out.any(axis=1)
        # (2t)·(d/2): no overflow when the result is moderate; clipped into the box against rounding.
        start = np.where((t0 > 0)[:, None], np.clip(a + (2 * t0)[:, None] * d2, lo, hi), a)
        end = np.where((t1 < 1)[:, None], np.clip(a + (2 * t1)[:, None] * d2, lo, hi), b)
    return start, end, visible


class ClippedPath:
    """A path clipped to the box [lo, hi], grown point by point (see the module docstring).

    ``verts`` (m, D): the visible polyline, NaN rows between pieces. ``count[k]``: number of
    vertices drawn for the path up to point k. Processing stops at the first non-finite point
    (the path is drawn up to its last finite point); ``n`` counts the points processed.
    """

    def __init__(self, lo: np.ndarray, hi: np.ndarray) -> None:
        self.lo = np.asarray(lo, dtype=np.float64)
        self.hi = np.asarray(hi, dtype=np.float64)
        d = self.lo.shape[0]
        self._verts = Grow((d,))
        self._count = Grow((), np.int64)
        self._prev: np.ndarray | None = None
        self._prev_in = False
        self.n = 0
        self.stopped = False  # a non-finite point was met

    @property
    def verts(self) -> np.ndarray:
        return self._verts.view()

    @property
    def count(self) -> np.ndarray:
        return self._count.view()

    def extend(self, points: np.ndarray) -> None:
        """Append the next points (m, D) of the path."""
        if self.stopped or len(points) == 0:
            return
        p = np.asarray(points, dtype=np.float64)
        bad = ~np.isfinite(p).all(axis=1)
        if bad.any():
            p = p[: int(np.argmax(bad))]
            self.stopped = True
        if len(p) == 0:
            return
        d = p.shape[1]
        verts = self._verts
        before = verts.n
        if self._prev is None:  # the first point
            first_in = bool(inside_box(p[:1], self.lo, self.hi)[0])
            if first_in:
                verts.extend(p[:1])
            self._count.extend(np.array([verts.n]))
            self._prev, self._prev_in = p[0].copy(), first_in
            self.n = 1
            p = p[1:]
            if len(p) == 0:
                return
            before = verts.n
        if len(p) == 1:  # the common case (one step per frame): plain floats, no array overhead
            self._extend_one(p[0])
            return
        a = np.concatenate([self._prev[None, :], p[:-1]])
        start, end, visible = clip_segments(a, p, self.lo, self.hi)
        b_in = inside_box(p, self.lo, self.hi)
        a_in = np.concatenate([[self._prev_in], b_in[:-1]])
        # Per segment up to three rows: a break and the entry point (when it starts outside), the end.
        new_piece = visible & ~a_in
        rows = np.empty((len(p), 3, d))
        rows[:, 0] = np.nan
        rows[:, 1] = start
        rows[:, 2] = end
        mask = np.column_stack([new_piece, new_piece, visible])
        if before == 0 and mask.any():  # no break before the very first piece
            first = int(np.argmax(mask.any(axis=1)))
            mask[first, 0] = False
        verts.extend(rows[mask])
        self._count.extend(before + np.cumsum(mask.sum(axis=1)))
        self._prev, self._prev_in = p[-1].copy(), bool(b_in[-1])
        self.n += len(p)

    def _extend_one(self, b: np.ndarray) -> None:
        """Append one point (finite) after at least one point: Liang–Barsky on Python floats."""
        a = self._prev
        assert a is not None  # set by the first point
        lo, hi = self.lo.tolist(), self.hi.tolist()
        av, bv = a.tolist(), b.tolist()
        b_in = all(l <= x <= h for x, l, h in zip(bv, lo, hi, strict=True))
        t0, t1, visible = 0.0, 1.0, True
        for x0, x1, l, h in zip(av, bv, lo, hi, strict=True):
            d2 = x1 / 2 - x0 / 2
            if d2 == 0:
                if x0 < l or x0 > h:
                    visible = False
                continue
            ta, tb = (l / 2 - x0 / 2) / d2, (h / 2 - x0 / 2) / d2
            if d2 < 0:
                ta, tb = tb, ta
            t0, t1 = max(t0, ta), min(t1, tb)
        visible = visible and t0 <= t1
        verts, before = self._verts, self._verts.n
        if visible:
            rows = []
            if not self._prev_in:
                if before:
                    rows.append([math.nan] * len(av))
                rows.append([min(max(x0 + 2 * t0 * (x1 / 2 - x0 / 2), l), h) if t0 > 0 else x0
                             for x0, x1, l, h in zip(av, bv, lo, hi, strict=True)])
            rows.append(bv if t1 >= 1 else [min(max(x0 + 2 * t1 * (x1 / 2 - x0 / 2), l), h)
                                            for x0, x1, l, h in zip(av, bv, lo, hi, strict=True)])
            verts.extend(np.array(rows))
        self._count.extend(np.array([verts.n]))
        self._prev, self._prev_in = b.copy(), b_in
        self.n += 1

    def prefix_len(self, k: int) -> int:
        """Vertices of the path up to point k (all processed ones when k is beyond them)."""
        if self.n == 0:
            return 0
        return int(self.count[min(k, self.n - 1)])

    def point_inside(self, point: np.ndarray) -> bool:
        return bool(inside_box(np.asarray(point, dtype=np.float64)[None, :], self.lo, self.hi)[0])


class Thinning:
    """Indices of the vertices of a :class:`ClippedPath` worth drawing at cell size ``cell``.

    Vertex j is dropped when it lies in the same cell as vertex j−1 or j−2 of its piece (a
    converged run bouncing between two cells draws one segment); each piece's first vertex, and
    the last vertex processed, are kept; NaN break rows are kept. Incremental: :meth:`extend`
    looks only at the vertices added since the last call.
    """

    def __init__(self, cell: np.ndarray) -> None:
        self.cell = np.asarray(cell, dtype=np.float64)
        self._keep = Grow((), np.int64)
        self.m = 0

    @property
    def keep(self) -> np.ndarray:
        return self._keep.view()

    def extend(self, verts: np.ndarray) -> None:
        m_new = len(verts)
        if m_new <= self.m:
            return
        lo = self.m - 1 if self.m > 0 else 0  # re-judge the previous last vertex (kept provisionally)
        if self.m > 0 and self._keep.n and self._keep.data[self._keep.n - 1] == self.m - 1:
            self._keep.n -= 1
        base = max(0, lo - 2)
        v = verts[base:m_new]
        with np.errstate(invalid="ignore"):
            cells = np.floor(v / self.cell)
        brk = np.isnan(v[:, 0])
        j = np.arange(base, m_new)
        keep = np.ones(len(v), dtype=bool)
        for back in (1, 2):
            if len(v) > back:
                prev = np.full(cells.shape, np.nan)
                prev[back:] = cells[:-back]
                prev_brk = np.ones(len(v), dtype=bool)
                prev_brk[back:] = brk[:-back]
                # earlier rows before `base` are unknown only when base > 0, and then lo - base == 2
                same = np.all(cells == prev, axis=1) & ~prev_brk
                keep &= ~same
        after_break = np.zeros(len(v), dtype=bool)
        after_break[1:] = brk[:-1]
        keep |= brk | after_break | (j == 0)
        keep[-1] = True
        sel = j[(j >= lo) & keep]
        self._keep.extend(sel)
        self.m = m_new

    def prefix(self, m: int) -> np.ndarray:
        """Kept vertex indices among the first ``m`` vertices, always ending at vertex m − 1."""
        if m <= 0:
            return np.empty(0, np.int64)
        keep = self.keep
        idx = keep[: int(np.searchsorted(keep, m))]
        if len(idx) == 0 or idx[-1] != m - 1:
            idx = np.append(idx, m - 1)
        return idx


class FirstInCell:
    """The first point (by index) in each cell of size ``cell``, among points inside [lo, hi]."""

    def __init__(self, cell: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        self.cell = np.asarray(cell, dtype=np.float64)
        self.lo, self.hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        self._seen: set[tuple[int, ...]] = set()
        self._idx = Grow((), np.int64)
        self.n = 0

    @property
    def indices(self) -> np.ndarray:
        return self._idx.view()

    def extend(self, points: np.ndarray) -> None:
        """Points ``points[self.n:]`` are new."""
        n_new = len(points)
        if n_new <= self.n:
            return
        p = np.asarray(points[self.n : n_new], dtype=np.float64)
        ok = inside_box(p, self.lo, self.hi)
        idx = np.flatnonzero(ok)
        if len(idx):
            cells = np.floor((p[idx] - self.lo) / self.cell).astype(np.int64)
            if len(idx) == 1:  # one new point a frame while playing: no batch to deduplicate
                first = np.zeros(1, dtype=np.intp)
            else:
                _, first = np.unique(cells, axis=0, return_index=True)  # first of each cell in this batch
                first.sort()
            seen, out = self._seen, []
            for i, c in zip(idx[first].tolist(), map(tuple, cells[first].tolist()), strict=True):
                if c not in seen:
                    seen.add(c)
                    out.append(i + self.n)
            if out:
                self._idx.extend(np.array(out, np.int64))
        self.n = n_new

    def prefix(self, k: int) -> np.ndarray:
        """Indices of the dots among points 0..k."""
        idx = self.indices
        return idx[: int(np.searchsorted(idx, k, side="right"))]


class SegmentSet:
    """The segments of a :class:`ClippedPath` worth drawing at cell size ``cell``: segment j
    (vertex j → j+1) is kept when it joins two different cells and no earlier segment joined
    the same two cells (in either direction). A run that keeps circling a minimum therefore
    draws a bounded set of segments: the count grows with the cells covered (screen pixels),
    not with the steps. Incremental; :meth:`prefix` gives the segments of the path up to a
    vertex, always ending with the segment into that vertex (the head is exact).
    """

    #: Above this many new segments, duplicates are found with np.unique rather than a loop.
    BATCH = 2048

    def __init__(self, cell: np.ndarray) -> None:
        self.cell = np.asarray(cell, dtype=np.float64)
        self._seen: set[tuple[int, ...]] = set()
        self._first = Grow((), np.int64)
        self.m = 0  # vertices processed

    @property
    def first(self) -> np.ndarray:
        """Sorted indices j of the kept segments (vertex j → j+1)."""
        return self._first.view()

    def extend(self, verts: np.ndarray) -> None:
        m_new = len(verts)
        if m_new <= self.m:
            return
        a = max(0, self.m - 1)
        v = verts[a:m_new]
        self.m = m_new
        if len(v) < 2:
            return
        ok = ~(np.isnan(v[:-1, 0]) | np.isnan(v[1:, 0]))
        with np.errstate(invalid="ignore"):
            cells = np.floor(v / self.cell)
        ca, cb = cells[:-1], cells[1:]
        ok &= np.any(ca != cb, axis=1)
        j = np.flatnonzero(ok)
        if not len(j):
            return
        ca, cb = ca[j].astype(np.int64), cb[j].astype(np.int64)
        less = _lex_less(ca, cb)[:, None]  # unordered pair: the smaller cell first
        lo, hi = np.where(less, ca, cb), np.where(less, cb, ca)
        keys = np.column_stack([lo, hi])
        seen, out = self._seen, []
        if len(j) > self.BATCH:
            _, first = np.unique(keys, axis=0, return_index=True)
            first.sort()
            j, keys = j[first], keys[first]
        for jj, key in zip(j.tolist(), map(tuple, keys.tolist()), strict=True):
            if key not in seen:
                seen.add(key)
                out.append(jj + a)
        if out:
            self._first.extend(np.array(out, np.int64))

    def prefix(self, m: int) -> np.ndarray:
        """Start vertices of the segments to draw for the first ``m`` vertices."""
        first = self.first
        idx = first[: int(np.searchsorted(first, m - 2, side="left"))]
        if m >= 2:
            idx = np.append(idx, m - 2)
        return idx


def _lex_less(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise lexicographic a < b for integer rows."""
    diff = a != b
    first = np.argmax(diff, axis=1)
    rows = np.arange(len(a))
    return diff.any(axis=1) & (a[rows, first] < b[rows, first])
