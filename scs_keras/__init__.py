"""scs_keras: Semi-Coupled Structure (SCS) recurrent layers for Keras 3.

See ``../shared/SCS_SPEC.md`` (the method) and the README (usage).
"""

import os

# The fused layers use TensorFlow ops directly (tf.scan, custom gradients).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"
