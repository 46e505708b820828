"""The contract every data reader of the package follows.

* A reader ``make_<something>_dataset(...)`` returns ``(dataset, report)``:
  a ``tf.data.Dataset`` of ``(inputs, targets)`` batches and a report (a
  :class:`DataReport` subclass) of what was read and what was left out.
* ``on_bad="raise"`` (the default) raises a :class:`DataError` naming the
  first bad file; ``on_bad="skip"`` drops whatever touches a bad file and
  lists it in ``report.problems``.  Nothing is dropped silently.
* An empty result (no usable sample) is always an error, whatever ``on_bad``.
* Optional libraries are imported with
  :func:`scs_keras.utils.optional.optional_import`.

Example:

>>> report = DataReport(source="data/")
>>> report.add_problem("data/a.png", "corrupt", "truncated PNG")
>>> report.num_problems
1
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from scs_keras.utils.validation import on_bad as check_on_bad

__all__ = ["DataError", "DataProblem", "DataReport", "check_on_bad", "raise_or_record"]


class DataError(ValueError):
    """Bad or unusable input data; the message names the file.

    Attributes:
        path: The file or folder at fault (``None`` when the whole data set
            is, e.g. it is empty).
        reason: What is wrong with it.
    """

    def __init__(self, path, reason):
        self.path = None if path is None else str(path)
        self.reason = str(reason)
        super().__init__(f"{self.path}: {self.reason}" if path is not None else self.reason)

    def __reduce__(self):  # picklable with its two arguments (tf.data, multiprocessing)
        return (type(self), (self.path, self.reason))


@dataclasses.dataclass
class DataProblem:
    """One bad file, or one bad part of a file.

    Attributes:
        path: The file.
        kind: A short category (``"missing"``, ``"corrupt"``, ``"nan"``...).
        message: What is wrong, for people.
        index: Optional position inside the file (frame, row, object).
    """

    path: str
    kind: str
    message: str
    index: int | None = None

    def __str__(self) -> str:
        where = f" [{self.index}]" if self.index is not None else ""
        return f"{self.kind} in {self.path!r}{where}: {self.message}"


@dataclasses.dataclass
class DataReport:
    """What a reader read and what it left out.

    Readers subclass it with their own counts; ``problems`` and
    :meth:`summary` are common to all.

    Attributes:
        source: The folder or file that was read.
        num_samples: Samples (windows, clips, objects) in the data set.
        problems: Every :class:`DataProblem` found (with ``on_bad="skip"``
            these were left out).
    """

    source: str = ""
    num_samples: int = 0
    problems: list = dataclasses.field(default_factory=list)

    @property
    def num_problems(self) -> int:
        """Number of problems found."""
        return len(self.problems)

    @property
    def bad_paths(self) -> list:
        """The distinct files with a problem, in the order found."""
        return list(dict.fromkeys(p.path for p in self.problems))

    def add_problem(self, path, kind, message, index=None) -> DataProblem:
        """Records a problem and returns it."""
        problem = DataProblem(str(path), kind, message, index)
        self.problems.append(problem)
        return problem

    def summary(self) -> str:
        """One line: the source, the sample count and the problems by kind."""
        text = f"{self.source!r}: {self.num_samples} sample(s)"
        kinds = Counter(p.kind for p in self.problems)
        if kinds:
            text += ("; left out: " + ", ".join(f"{k}={v}" for k, v in sorted(kinds.items()))
                     + "; first: " + "; ".join(str(p) for p in self.problems[:3]))
        return text


def raise_or_record(report: DataReport, on_bad: str, path, kind, message, index=None):
    """``on_bad="raise"``: raise a :class:`DataError`; ``"skip"``: record it.

    Returns:
        The recorded :class:`DataProblem` (``"skip"`` only).
    """
    if on_bad == "raise":
        where = f" (item {index})" if index is not None else ""
        raise DataError(path, f"{kind}{where}: {message}. Pass on_bad='skip' to leave "
                              "it out and list it in the report.")
    return report.add_problem(path, kind, message, index)
