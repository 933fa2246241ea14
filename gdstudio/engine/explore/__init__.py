"""Explore: thousands of runs at once (basin maps, hyperparameter sweeps, fair races). Qt-free.

See docs/explore.md. Every row equals the single :class:`~gdstudio.engine.runs.Run` with its
settings (what ``gdstudio trace`` runs).
"""

from gdstudio.engine.explore.basins import BasinMap, basin_map, grid_starts, label_minima
from gdstudio.engine.explore.fair import RaceRow, fair_race
from gdstudio.engine.explore.memory import bytes_per_row, check_memory, estimate_bytes
from gdstudio.engine.explore.rows import (
    CONVERGED,
    DIVERGED,
    OK,
    STATUS_NAMES,
    STOPPED,
    Cancelled,
    RowResults,
    component_key,
    run_rows,
)
from gdstudio.engine.explore.sweeps import LOG_KEYS, Sweep, sweep, sweep_values

__all__ = [
    "CONVERGED", "DIVERGED", "LOG_KEYS", "OK", "STATUS_NAMES", "STOPPED", "BasinMap", "Cancelled", "RaceRow",
    "RowResults", "Sweep", "basin_map", "bytes_per_row", "check_memory", "component_key", "estimate_bytes",
    "fair_race", "grid_starts", "label_minima", "run_rows", "sweep", "sweep_values",
]
