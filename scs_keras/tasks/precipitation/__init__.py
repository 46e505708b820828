"""Precipitation nowcasting with SCS.

The task's files have the roles every task shares (see
:mod:`scs_keras.tasks.base`):

* :mod:`.data` - generated radar data (PNG event folders or HDF5), the
  ``tf.data`` pipelines, the targets of every output;
* :mod:`.models` - the SCS encoder–forecaster and its ConvLSTM twin
  (``build_model``);
* :mod:`.training` - ``NowcastingLoss``, ``compile_forecaster`` (ASTSGD by
  default), ``fit_forecaster``, ``evaluate_forecaster``;
* :mod:`.export` - the serving model and its SavedModel export;
* :mod:`.baselines` - persistence and optical-flow extrapolation;
* :mod:`.task` - ``PrecipitationTask`` for ``scs-keras ... precipitation``.

See ``docs/precipitation.md`` and ``examples/precipitation_forecasting.py``.
"""
