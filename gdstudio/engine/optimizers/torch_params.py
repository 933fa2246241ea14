"""Hyperparameter fields with torch.optim's own validation messages (Rprop … Muon).

torch 2.13's newer optimizers word their checks differently from each other
(``Invalid learning rate: -1.0``, ``Learning rate should be >= 0 but is: -1.0``); a field made
here raises exactly torch's text for a value outside its range (a
:class:`~gdstudio.engine.optimizers.community.RefParam` with ``message``), and the generic
``Invalid … value`` message for what torch has no check for (NaN, text that is not a number).
"""

from __future__ import annotations

from typing import Any

from gdstudio.engine.optimizers.community import ref_param

#: torch's messages, by wording (``{value}`` is the value as Python prints it).
INVALID_LR = "Invalid learning rate: {value}"
LR_SHOULD_BE = "Learning rate should be >= 0 but is: {value}"


def lr(default: float, message: str) -> Any:
    """Learning rate η in ``[0, inf)`` (log-scale slider) with torch's ``message``."""
    return ref_param(default, "η", "learning rate: the size of each step along the update direction",
                     low=0.0, soft_low=1e-4, soft_high=10.0, log=True, label="learning rate", message=message)


def weight_decay(default: float, message: str) -> Any:
    """Weight decay λ in ``[0, inf)`` with torch's ``message``."""
    return ref_param(default, "λ", "weight decay: pulls parameters towards zero by λ·θ", low=0.0, soft_high=1.0,
                     label="weight decay", message=message)
