"""Steering from driving video with SCS networks.

The task's files have the roles every task shares (see
:mod:`scs_keras.tasks.base`):

* :mod:`.data` - generated comma.ai-layout routes, the readers' pipelines
  split by route, targets of every output;
* :mod:`.models` - the SCS network (with T¹ and T² heads) and its baselines
  (comma.ai's CNN, CNN+LSTM, ConvLSTM);
* :mod:`.streaming` - one frame at a time through a model, with its state;
* :mod:`.training` - losses, compiling (ASTSGD), evaluation with the T¹ vs
  T² table per road condition, TensorBoard pictures;
* :mod:`.export` - the SavedModel with ``serving_default`` and ``step``;
* :mod:`.task` - ``SteeringTask`` for ``scs-keras ... steering``.

Results are in ``docs/steering.md``.
"""
