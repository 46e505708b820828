"""Which Keras backend the TensorFlow-only parts of the package need."""

import keras

__all__ = ["require_tensorflow_backend"]


def require_tensorflow_backend(owner, alternative):
    """Raises a ValueError unless Keras runs on TensorFlow.

    The fused layers and ``SCSModel`` use TensorFlow ops directly; saying so
    when they are built beats a TensorFlow op failing on another backend's
    tensors later.

    Args:
        owner: The class being built, for the message.
        alternative: What to use on other backends, for the message.

    Raises:
        ValueError: Keras' backend is not ``"tensorflow"``.
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ValueError(
            f"{owner} runs on the TensorFlow backend only (it is written with "
            f"TensorFlow ops); Keras runs on the {backend!r} backend. "
            f"Use {alternative} instead, or set KERAS_BACKEND=tensorflow."
        )
