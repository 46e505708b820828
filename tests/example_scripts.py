"""Helpers for the tests of the example scripts in ``examples/``."""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_example_script(filename, module_name=None):
    """Imports ``examples/<filename>`` as a module.

    The examples are scripts, not a package, so they are loaded from their
    path; ``module_name`` defaults to the file's stem.
    """
    path = os.path.join(ROOT, "examples", filename)
    name = module_name or os.path.splitext(filename)[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_usage_error(parse, argv, message, capsys):
    """``parse(argv)`` must stop as argparse does on bad arguments.

    That is ``SystemExit`` with code 2 (not a traceback, not a run with a
    silently ignored flag) and ``message`` in what it printed to stderr.
    """
    with pytest.raises(SystemExit) as info:
        parse(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err
