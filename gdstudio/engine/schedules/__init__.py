"""Learning-rate schedules with torch.optim.lr_scheduler semantics, and their registry.

Names: ``step``, ``multistep``, ``constant``, ``linear``, ``exponential``, ``polynomial``,
``cosine``, ``cosine-restarts``, ``cyclic``, ``onecycle``, ``plateau``. A schedule is stepped once
after each optimizer step; ``plateau`` watches the full loss. See docs/schedules.md.
"""

from gdstudio.engine.schedules.params import ParamValue, ScheduleParam, format_param_value
from gdstudio.engine.schedules.registry import (
    DEFAULT_HORIZON,
    SCHEDULES,
    ScheduleSpec,
    get_schedule_spec,
    schedule_names,
)
from gdstudio.engine.schedules.schedule import (
    Schedule,
    check_warmup,
    make_schedule,
    momentum_target,
    preview_schedule,
    validate_schedule,
)

__all__ = [
    "DEFAULT_HORIZON",
    "SCHEDULES",
    "ParamValue",
    "Schedule",
    "ScheduleParam",
    "ScheduleSpec",
    "check_warmup",
    "format_param_value",
    "get_schedule_spec",
    "make_schedule",
    "momentum_target",
    "preview_schedule",
    "schedule_names",
    "validate_schedule",
]
