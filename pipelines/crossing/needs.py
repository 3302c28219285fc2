"""Which conventions can change a publication: read when the crossing DAG is parsed.

Kept apart from ``indicators.py`` (DuckDB, pydantic) so that parsing the DAG imports nothing
heavy and reads no data: only the catalogue's ``sources`` lists, which are configuration.
"""

from __future__ import annotations

from pathlib import Path

import yaml

CATALOGUE = Path(__file__).resolve().parents[2] / "indicators" / "catalogue.yaml"
KNOWN_SOURCE = "cd31"  # every indicator's ``connus`` rows rest on the département's own file


def needed_conventions(conventions: list[str], catalogue: Path = CATALOGUE) -> list[str]:
    """The conventions some indicator uses (plus ``cd31`` for ``connus``), among ``conventions``:
    the ones whose deliveries can change a publication, and so trigger a crossing. An unreadable
    catalogue counts every convention as needed (the crossing itself then says what is wrong)."""
    try:
        entries = yaml.safe_load(catalogue.read_text(encoding="utf-8"))["indicators"]
        used = {KNOWN_SOURCE, *(source for entry in entries for source in entry["sources"])}
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return list(conventions)
    return [c for c in conventions if c in used]
