"""YAML loading that remembers where each value came from.

A DPO reviewing a convention needs "caf31.yaml, ligne 12" rather than a Python traceback, so
every mapping and list keeps the line of each of its keys and items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class Located:
    """A loaded YAML document plus the line (1-based) of every path inside it."""

    path: Path
    data: Any
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict)

    def line_of(self, *keys: str | int) -> int:
        """Line of the deepest known prefix of ``keys`` (1 when nothing matches)."""
        for end in range(len(keys), -1, -1):
            line = self.lines.get(tuple(keys[:end]))
            if line is not None:
                return line
        return 1

    def problem(self, message: str, *keys: str | int) -> str:
        """``<file>, ligne <n> : <message>``, the line being that of ``keys``."""
        return f"{self.path.name}, ligne {self.line_of(*keys)} : {message}"


class YamlSyntaxError(ValueError):
    """The file is not valid YAML; carries the file and line."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path.name}, ligne {line} : YAML invalide ({message})")
        self.path, self.line = path, line


def load_located(path: Path, loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> Located:
    """Parse once, keeping the node tree for the lines; ``loader`` may be stricter than
    ``SafeLoader`` (the indicator parameters read decimals exactly)."""
    text = path.read_text(encoding="utf-8")
    parser = loader(text)
    try:
        node = parser.get_single_node()
        data = parser.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise YamlSyntaxError(path, line, getattr(exc, "problem", None) or str(exc)) from None
    finally:
        parser.dispose()
    located = Located(path=path, data=data)
    if node is not None:
        _walk(node, (), located.lines)
    return located


def _walk(node: yaml.Node, prefix: tuple[str | int, ...], lines: dict) -> None:
    lines[prefix] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = prefix + (key_node.value,)
            _walk(value_node, key, lines)
            lines[key] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, prefix + (index,), lines)
