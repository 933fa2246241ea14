"""Reusable widgets: number spin boxes, log-scale sliders, generated hyperparameter editors."""

from gdstudio.ui.widgets.hyperparams import ParamEditor, make_param_editor
from gdstudio.ui.widgets.numbers import LogSlider, NumberSpinBox, ValueSlider

__all__ = ["LogSlider", "NumberSpinBox", "ParamEditor", "ValueSlider", "make_param_editor"]
