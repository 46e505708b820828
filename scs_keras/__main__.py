"""``python -m scs_keras`` is the ``scs-keras`` command.

(TensorFlow is already loaded here; the console script ``scs-keras`` also
quiets its C++ logs, see ``scs_keras_cli``.)
"""

import sys

from scs_keras.cli import main

if __name__ == "__main__":  # not on import (documentation tools import every module)
    sys.exit(main())
