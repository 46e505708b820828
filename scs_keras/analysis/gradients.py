"""Per-layer gradient norms: where a deep model's learning signal goes.

Used to find out why a deep model does not learn (docs/precipitation.md,
"Why the deep SCS forecaster fails"): a layer whose gradient is orders of
magnitude smaller than its neighbours' learns nothing in the budget.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = ["layer_gradient_norms"]


def layer_gradient_norms(model, x, y, training=True):
    """The L2 norm of the loss gradient over each layer's trainable weights.

    The loss is the compiled one (``model.compute_loss``, all outputs and
    their weights), computed in training mode by default (so an
    ``SCSModel``'s cells truncate at their current rate).

    Args:
        model: A compiled ``keras.Model``.
        x, y: One batch (inputs and targets as ``fit`` takes them).
        training: Forward mode.  Default ``True``.

    Returns:
        A dict ``layer name -> norm`` (float) over the model's top-level
        layers, in the order of the model's weights.

    Example:

    >>> import keras, numpy as np
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="d")])
    >>> m.compile(loss="mse")
    >>> sorted(layer_gradient_norms(m, np.ones((4, 2)), np.zeros((4, 1))))
    ['d']
    """
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        y_pred = model(x, training=training)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=training)
    grads = tape.gradient(loss, variables)
    # Each variable belongs to the top-level layer that holds it (a wrapper
    # such as FrameWise owns its inner layer's weights).
    owner = {}
    for layer in model.layers:
        for variable in layer.trainable_weights:
            owner.setdefault(id(variable), layer.name)
    squares = {}
    for variable, grad in zip(variables, grads):
        layer = owner.get(id(variable), variable.path)
        value = 0.0 if grad is None else float(np.sum(np.square(np.asarray(grad))))
        squares[layer] = squares.get(layer, 0.0) + value
    return {layer: float(np.sqrt(total)) for layer, total in squares.items()}
