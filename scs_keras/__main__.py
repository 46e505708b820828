"""``python -m scs_keras`` is the ``scs-keras`` command."""

import sys

from scs_keras.cli import main

sys.exit(main())
