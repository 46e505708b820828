"""Action recognition with deep SCS networks.

The task's files have the roles every task shares (see
:mod:`scs_keras.tasks.base`):

* :mod:`.data` - generated motion videos, the ``tf.data`` pipelines
  (``make_action_datasets``) and the targets of every output
  (``model_targets``; Farneback flow for the T² heads);
* :mod:`.models` - the deep SCS network and its baselines (``build_model``:
  per-frame CNN, CNN+LSTM, ConvLSTM);
* :mod:`.training` - ``ClipScoreLoss``, ``compile_action_model``,
  ``fit_action_model``, ``evaluate_action_model``, TensorBoard pictures;
* :mod:`.export` - the serving model and its SavedModel export;
* :mod:`.task` - ``ActionRecognitionTask`` for ``scs-keras ... action-recognition``.

Results are in ``docs/action_recognition.md``.
"""
