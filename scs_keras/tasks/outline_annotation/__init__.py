"""Outline annotation: Polygon-RNN with a deep SCS decoder.

The task's files have the roles every task shares (see
:mod:`scs_keras.tasks.base`):

* :mod:`.data` - generated street scenes in the Cityscapes layout, the
  ``tf.data`` pipelines and the training targets;
* :mod:`.models` - the encoder, first-vertex head and the decoders
  (``build_model``: deep SCS, ConvLSTM of equal depth, 2-layer Polygon-RNN);
* :mod:`.baselines` - ``square``, a fixed polygon that a trained decoder
  must beat;
* :mod:`.decoding` - greedy decoding in the graph (``greedy_decode``);
* :mod:`.training` - losses, compiling, IoU evaluation, TensorBoard pictures;
* :mod:`.export` - the serving model (image crop -> polygon) and its export;
* :mod:`.task` - ``OutlineAnnotationTask`` for ``scs-keras ... outline-annotation``.

Results are in ``docs/outline_annotation.md``.
"""
