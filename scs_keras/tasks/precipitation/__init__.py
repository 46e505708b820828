"""Precipitation nowcasting with SCS (SCS_SPEC §8d): models, baselines, pipeline.

* :mod:`.models`: ``build_scs_forecaster`` / ``build_convlstm_forecaster``
  (encoder–forecasters of equal depth and width), ``NowcastingLoss``
  (MSE + MAE, optionally rain-weighted), ``compile_forecaster`` (ASTSGD by
  default), ``forecast_only``.
* :mod:`.baselines`: ``PersistenceModel``, ``OpticalFlowModel``.
* :mod:`.pipeline`: generated data, ``tf.data`` pipelines, training with
  TensorBoard pictures, evaluation, same-budget comparison, SavedModel
  export.

See ``docs/precipitation.md`` and ``examples/precipitation_forecasting.py``.
"""

from scs_keras.tasks.precipitation.baselines import OpticalFlowModel, PersistenceModel
from scs_keras.tasks.precipitation.models import (
    FORECAST,
    NEXT_FRAME,
    SPATIAL,
    NowcastingLoss,
    build_convlstm_forecaster,
    build_scs_forecaster,
    compile_forecaster,
    forecast_only,
    persistence_loss,
    rain_intensity_weights,
)
from scs_keras.tasks.precipitation.pipeline import (
    check_export,
    compare,
    evaluate_forecaster,
    export_forecaster,
    generated_data,
    load_datasets,
    results_table,
    train_forecaster,
)

__all__ = [
    "FORECAST", "NEXT_FRAME", "SPATIAL", "NowcastingLoss", "OpticalFlowModel",
    "PersistenceModel", "build_convlstm_forecaster", "build_scs_forecaster",
    "check_export", "compare", "compile_forecaster", "evaluate_forecaster",
    "export_forecaster", "forecast_only", "generated_data", "load_datasets",
    "persistence_loss", "rain_intensity_weights", "results_table", "train_forecaster",
]
