"""What analysts see: the self-contained HTML report per period, and the Excel-ready exports.

Everything here reads the publication only (``published/recours.duckdb``, through the same
confined, read-only connection as ``recours query``), never the warehouse: the report cannot
show a figure that analysts could not query themselves, and a withheld cell stays withheld.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.report.analyst import build_report, time_report
from pipelines.report.exports import write_exports
from pipelines.report.model import ReportError

__all__ = ["ReportError", "build_report", "report_and_exports", "time_report", "write_exports"]


def report_and_exports(published_dir: Path, period: str | None = None) -> tuple[Path, list[Path]]:
    """The report and the exports of one period: what ``recours run``, ``recours rapport`` and
    the crossing DAG's last task all write."""
    return build_report(published_dir, period), write_exports(published_dir, period)
