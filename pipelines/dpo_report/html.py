"""The DPO report as one self-contained HTML page, and the same facts as JSON.

The page must open from a file on a closed machine and print well, so it loads nothing: the
reports' shared stylesheet is inlined, there is no script, no font, no image. It is rendered
by ``pipelines.templating`` (autoescaped: convention texts and column names come from files written
by others, and a partner can name a column ``<script>``); only the vendored CSS is marked safe.
"""

from __future__ import annotations

import json
from typing import Any

from pipelines import templating

TEMPLATE = "rapport_dpo.html.j2"


def render_html(facts: dict[str, Any]) -> str:
    return templating.render(TEMPLATE, f=facts, css=templating.safe(templating.stylesheet()))


def render_json(facts: dict[str, Any]) -> str:
    return json.dumps(facts, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
