"""Griffe extension: Keras-style docstrings render well on the API pages.

The package's docstrings follow Keras' style, which the Google-style parser
of mkdocstrings reads almost, but not quite, as intended:

* ``>>>`` examples (under an ``Example:`` heading, which the parser treats
  as an admonition whose body is Markdown) would run together into one
  paragraph, and ``x[:2]`` would read as a link reference.  Every run of
  doctest lines (a ``>>>`` line up to the next blank line) is fenced as a
  ``pycon`` code block.
* ``Call arguments:`` (Keras' section for the arguments of ``call``) is not
  a Google section either; its ``name: description`` entries would run
  together.  They become a Markdown list.
* reStructuredText's ``text::`` before an indented block would show the
  double colon; it becomes ``text:`` (the indented block is code in
  Markdown too).

The docstrings themselves are not changed; only what griffe hands to the
renderer.
"""

import re

import griffe

_CALL_ARGUMENTS = "Call arguments:"
_ENTRY = re.compile(r"^(\s*)([\w*][\w*, ]*):\s+(.*)$")


def _indent(line):
    return len(line) - len(line.lstrip())


def fence_doctests(lines):
    """Wraps each run of doctest lines in a ``pycon`` fence."""
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.lstrip().startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = line[: _indent(line)]
        if out and out[-1].strip() and not out[-1].rstrip().endswith(":"):
            # Keep a paragraph and the fence apart; right after a section
            # heading such as ``Example:`` a blank line would end the section.
            out.append("")
        out.append(f"{indent}```pycon")
        while i < len(lines) and lines[i].strip():
            out.append(lines[i])
            i += 1
        out.append(f"{indent}```")
    return out


def list_call_arguments(lines):
    """Turns the entries of a ``Call arguments:`` section into a list."""
    out = []
    section_indent = None  # indent of the entries while inside the section
    header_indent = None
    for line in lines:
        if line.strip() == _CALL_ARGUMENTS:
            header_indent = _indent(line)
            section_indent = None
            out.append(line)
            continue
        if header_indent is not None and line.strip():
            if _indent(line) <= header_indent:
                header_indent = None  # the section ended
            else:
                if section_indent is None:
                    section_indent = _indent(line)
                match = _ENTRY.match(line)
                if match and _indent(line) == section_indent:
                    lead, name, text = match.groups()
                    line = f"{lead}- `{name}`: {text}"
        elif header_indent is not None and not line.strip():
            header_indent = None  # Google sections end at a blank line
        out.append(line)
    return out


def plain_literal_markers(lines):
    """``text::`` -> ``text:`` (the block below stays an indented block)."""
    return [
        line[:-1] if line.rstrip().endswith("::") and line.strip() != "::"
        else line
        for line in (line.rstrip() for line in lines)
    ]


def adapt(text):
    """All three adaptations on one docstring."""
    lines = text.split("\n")
    lines = plain_literal_markers(lines)
    lines = list_call_arguments(lines)
    lines = fence_doctests(lines)
    return "\n".join(lines)


class KerasDocstrings(griffe.Extension):
    """Adapts every docstring the loader sees (see the module docstring)."""

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = adapt(obj.docstring.value)
