"""Entry point of the ``scs-keras`` console script.

It lives outside the ``scs_keras`` package on purpose: importing the package
loads TensorFlow, and TensorFlow's C++ log level must be set before that
(``TF_CPP_MIN_LOG_LEVEL=2``: no INFO/WARNING lines such as cost-model
estimates and CPU-feature notices; errors and Python warnings stay).  A level
the user set is kept.
"""

import os
import sys


def main():
    """Runs ``scs_keras.cli.main`` with TensorFlow's C++ logs quiet."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from scs_keras.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
