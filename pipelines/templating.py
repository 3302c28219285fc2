"""The one way the project writes HTML: Jinja2 templates, autoescaped, from ``pipelines/templates``.

The three reports (the analysts' report, the DPO report, the restricted audit of the secret)
are opened from a file on machines without network, so nothing here loads anything: templates
and the one stylesheet they share are read from the package, and the stylesheet is inlined by
each page. Autoescaping is on for everything, because the pages print texts written by others
(convention files, catalogue entries, territory names): only the vendored stylesheet is marked
safe. ``StrictUndefined`` turns a misspelt name in a template into an error at render time
instead of an empty cell in a report.

A template whose first line is ``{#- compact -#}`` is written for reading, one element per line,
but rendered as one line: line breaks in its text, and the indentation after them, are layout
only and dropped (a space that matters is written inside a line). Expressions and values are
never touched. The DPO report keeps its line breaks, as before.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from jinja2.ext import Extension
from markupsafe import Markup

from recours import french

TEMPLATES = Path(__file__).resolve().parent / "templates"
STYLESHEET = "rapport.css"  # in TEMPLATES, shared by the three reports
COMPACT_MARK = "{#- compact -#}"
_LAYOUT = re.compile(r"\n[ \t]*")
_TAG = re.compile(r"(\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\})", re.DOTALL)


class _Compact(Extension):
    """Drops the layout line breaks of the templates that ask for it (see the module): in the
    template's text, never inside a tag, so that no value and no expression is touched."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        if not source.startswith(COMPACT_MARK):
            return source
        pieces = _TAG.split(source)  # text, tag, text, tag, ... (the tags are kept)
        return "".join(
            piece if index % 2 else _LAYOUT.sub("", piece) for index, piece in enumerate(pieces)
        )


def number(value: Any) -> str:
    """French thousands separator (narrow no-break space); anything else as it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return french.MISSING if value is None else str(value)
    if isinstance(value, float):
        return french.decimal(value)
    return french.integer(value)


def timestamp(value: Any) -> str:
    """``2026-11-27T14:33:29+00:00`` as ``27/11/2026 14:33 UTC``; unparsable values as they are."""
    if not isinstance(value, str):
        return "—" if value is None else str(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if len(value) == 10:
        return moment.strftime("%d/%m/%Y")
    zone = " UTC" if moment.utcoffset() is not None and not moment.utcoffset() else ""
    return moment.strftime("%d/%m/%Y %H:%M") + zone


def percent(value: Any) -> str:
    """A share (0.0273) as a French percentage (2,7 %)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return french.MISSING if value is None else str(value)
    return french.rate(value)


def compact(value: Any) -> str:
    """A journal field in one line: lists joined, mappings as ``clé : valeur``."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, list | tuple):
        return ", ".join(compact(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k} : {compact(v)}" for k, v in value.items()) or "—"
    return number(value) if isinstance(value, int | float) else str(value)


@cache
def environment() -> Environment:
    """The one Jinja2 environment (templates compiled once per process)."""
    env = Environment(
        loader=PackageLoader("pipelines", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[_Compact],
    )
    env.filters.update(nombre=number, horodatage=timestamp, compact=compact, pourcentage=percent)
    return env


@cache
def stylesheet() -> str:
    """The reports' shared stylesheet, as vendored (pages mark it safe and inline it)."""
    return (TEMPLATES / STYLESHEET).read_text(encoding="utf-8")


def safe(text: str) -> Markup:
    """Markup the project wrote itself (the stylesheet, the sorting script): not escaped."""
    return Markup(text)


def render(template_name: str, **context: Any) -> str:
    """``template_name`` (a file of ``pipelines/templates``) rendered with ``context``."""
    return environment().get_template(template_name).render(**context)
