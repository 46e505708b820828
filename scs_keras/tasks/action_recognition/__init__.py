"""Action recognition with deep SCS networks (SPEC §6, §8a).

* :mod:`.models` - ``build_scs_action_model`` and the baselines
  (``build_cnn_action_model``, ``build_cnn_lstm_action_model``,
  ``build_convlstm_action_model``), ``ClipScoreLoss``, ``make_serving_model``;
* :mod:`.training` - ``compile_action_model``, ``evaluate_action_model``,
  ``render_predictions``, ``export_action_model``;
* :mod:`.data` - ``generated_motion_data``, ``make_action_datasets``,
  ``farneback_flow`` (needs OpenCV, the ``data`` extra; imported on first use).

The command-line walk-through is ``examples/action_recognition.py``; results
are in ``docs/action_recognition.md``.
"""

import importlib

from scs_keras.tasks.action_recognition.models import (  # noqa: F401
    MODEL_NAMES,
    RESNET18_SHAPE,
    ClipScoreLoss,
    FrameStandardization,
    build_action_model,
    build_cnn_action_model,
    build_cnn_lstm_action_model,
    build_convlstm_action_model,
    build_scs_action_model,
    make_serving_model,
    stage_layout,
)
from scs_keras.tasks.action_recognition.training import (  # noqa: F401
    compile_action_model,
    evaluate_action_model,
    export_action_model,
    render_predictions,
)

_DATA_NAMES = ("generated_motion_data", "make_action_datasets", "attach_targets",
               "farneback_flow", "overlap_sequence_length")


def __getattr__(name):
    if name in _DATA_NAMES:
        data = importlib.import_module("scs_keras.tasks.action_recognition.data")
        return getattr(data, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
