"""Where the Training lab opens: beside the studio, on the studio's screen, never past its edges.

:func:`beside` is pure rectangle arithmetic on *frame* rectangles (window plus decorations), so it
is tested for any screen size without a display of that size:

1. room to the right of the studio for at least :data:`LAB_MIN_WIDTH` pixels: the lab goes there
   (as wide as the room, up to :data:`LAB_SIZE`); else the same on the left;
2. only when asked to (``make_room``; the studio is then not maximized or full screen, and its
   minimum width leaves the lab :data:`LAB_MIN_WIDTH`): the studio moves to the screen's left
   edge and narrows — as far as its minimum width if need be — so that the lab gets up to
   :data:`LAB_COMFORT_WIDTH` on its right: side by side, nothing covered (1920×1080 with a
   1600 px studio whose minimum is 1122: studio 1122, lab 798);
3. otherwise (no room: 1920×1080 with the studio at 1600 px, or 1280×720) the lab goes against
   the screen's edge on the side with more room, :data:`LAB_COMFORT_WIDTH` wide, covering only
   part of the studio (its panels on the left stay visible). By default the studio's own
   geometry is never changed: resizing a window the user arranged is their call.

The lab is never wider or taller than the screen's available area, so nothing of it is cut off.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize

__all__ = ["LAB_COMFORT_WIDTH", "LAB_MIN_WIDTH", "LAB_SIZE", "beside"]

#: The lab's preferred frame size.
LAB_SIZE = QSize(1440, 900)
#: The narrowest lab placed beside the studio: the setup column (430 px) and 330 px of plots.
LAB_MIN_WIDTH = 760
#: The width the lab gets when the studio must narrow or be partly covered: plots of ~560 px.
LAB_COMFORT_WIDTH = 1000


def _clamp(value: int, lo: int, hi: int) -> int:
    return max(lo, min(value, hi))


def beside(avail: QRect, studio: QRect, studio_min_width: int, make_room: bool = False,
           preferred: QSize = LAB_SIZE, least: int = LAB_MIN_WIDTH,
           comfortable: int = LAB_COMFORT_WIDTH) -> tuple[QRect, QRect | None]:
    """(the lab's frame rectangle, the studio's new frame rectangle or None to leave it as it is).

    ``avail`` is the screen's available geometry, ``studio`` the studio's frame rectangle.
    """
    height = min(preferred.height(), avail.height())
    top = _clamp(studio.top(), avail.top(), avail.bottom() + 1 - height)
    seen = studio.intersected(avail) if studio.intersects(avail) else studio  # the part on this screen
    right_room = avail.right() - seen.right()
    left_room = seen.left() - avail.left()
    if right_room >= least:
        width = min(preferred.width(), right_room)
        return QRect(studio.right() + 1, top, width, height), None
    if left_room >= least:
        width = min(preferred.width(), left_room)
        return QRect(studio.left() - width, top, width, height), None
    if make_room and avail.width() - least >= studio_min_width:
        studio_width = min(studio.width(), max(studio_min_width, avail.width() - comfortable))
        studio_height = min(studio.height(), avail.height())
        studio_top = _clamp(studio.top(), avail.top(), avail.bottom() + 1 - studio_height)
        moved = QRect(avail.left(), studio_top, studio_width, studio_height)
        width = min(preferred.width(), avail.right() - moved.right())
        return QRect(moved.right() + 1, top, width, height), moved
    width = min(preferred.width(), avail.width(), max(comfortable, right_room, left_room))
    x = avail.left() if left_room > right_room else avail.right() + 1 - width
    return QRect(x, top, width, height), None
