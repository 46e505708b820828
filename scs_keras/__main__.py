"""``python -m scs_keras`` is the ``scs-keras`` command.

(The console script ``scs-keras`` also quiets TensorFlow's C++ logs, see
``scs_keras_cli``; ``chains`` runs without importing TensorFlow.)
"""

import sys

from scs_keras.cli import main

if __name__ == "__main__":  # not on import (documentation tools import every module)
    sys.exit(main())
