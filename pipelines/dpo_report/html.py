"""The DPO report as one self-contained HTML page, and the same facts as JSON.

The page must open from a file on a closed machine and print well, so it loads nothing: the
style sheet is vendored beside the template and inlined, there is no script, no font, no image.
Jinja's autoescaping is on for everything: convention texts and column names come from files
written by others (a partner can name a column ``<script>``), and only the vendored CSS is
marked safe.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from recours import french

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "rapport_dpo.html.j2"
STYLESHEET = "rapport_dpo.css"


def _number(value: Any) -> str:
    """French thousands separator (narrow no-break space); anything else as it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return french.MISSING if value is None else str(value)
    if isinstance(value, float):
        return french.decimal(value)
    return french.integer(value)


def _timestamp(value: Any) -> str:
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


def _percent(value: Any) -> str:
    """A share (0.0273) as a French percentage (2,7 %)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return french.MISSING if value is None else str(value)
    return french.rate(value)


def _compact(value: Any) -> str:
    """A journal field in one line: lists joined, mappings as ``clé : valeur``."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, list | tuple):
        return ", ".join(_compact(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k} : {_compact(v)}" for k, v in value.items()) or "—"
    return _number(value) if isinstance(value, int | float) else str(value)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        nombre=_number, horodatage=_timestamp, compact=_compact, pourcentage=_percent
    )
    return env


def render_html(facts: dict[str, Any]) -> str:
    css = Markup((TEMPLATES / STYLESHEET).read_text(encoding="utf-8"))  # vendored, ours
    return _environment().get_template(TEMPLATE).render(f=facts, css=css)


def render_json(facts: dict[str, Any]) -> str:
    return json.dumps(facts, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
