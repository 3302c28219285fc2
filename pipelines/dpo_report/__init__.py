"""The DPO's report (``recours audit``): what the DPO must be able to answer without calling
anyone: which conventions are in force, what each partner sent, what was kept or dropped, who
crossed what and when, what was published, what was deleted, and whether the record was
tampered with. One HTML page, self-contained and printable, and the same facts as JSON.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pipelines.dpo_report.facts import REPORT_HTML, REPORT_JSON, gather_facts, previous_anchor
from pipelines.dpo_report.html import render_html, render_json
from recours.atomic import write_text_atomically
from recours.errors import RecoursError
from recours.home import Home

__all__ = ["DpoReportError", "previous_anchor", "write_dpo_report"]


class DpoReportError(RecoursError):
    """The report cannot be written (no home folder, audit folder not writable)."""


def write_dpo_report(home: Path, conventions_dir: Path | None, today: date) -> tuple[Path, Path]:
    """Write ``<home>/audit/rapport_dpo.html`` and ``rapport_dpo.json``; return both paths."""
    if not home.is_dir():
        raise DpoReportError(f"dossier de travail introuvable : {home}")
    facts = gather_facts(home, conventions_dir, today)
    audit = Home(home).audit
    try:
        audit.mkdir(mode=0o700, parents=True, exist_ok=True)
        html, data = audit / REPORT_HTML, audit / REPORT_JSON
        # audit/ is private to the service account; the report reports it if it is not
        write_text_atomically(html, render_html(facts), mode=0o600)
        write_text_atomically(data, render_json(facts), mode=0o600)
    except OSError as exc:
        raise DpoReportError(
            f"impossible d'écrire le rapport dans {audit} ({type(exc).__name__})"
        ) from None
    return html, data
