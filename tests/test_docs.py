"""Documentation where users look: a test fails when a command, an option or a rule is added
without being documented."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from app.cli import cli
from pipelines.ingest.validate import SEVERITIES
from recours.errors import REFUSAL_RULES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
INGESTION = (ROOT / "docs" / "ingestion.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "recours"):
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from commands(command, path)
        else:
            yield path, command


@pytest.mark.parametrize(("path", "command"), list(commands(cli)), ids=lambda v: str(v))
def test_every_command_and_option_is_in_the_readme(path, command):
    assert path in README, f"{path} absente du README"
    for param in command.params:
        if isinstance(param, click.Option):
            for option in param.opts:
                if option.startswith("--") and option != "--help":
                    assert option in README, f"{path} {option} absente du README"


@pytest.mark.parametrize("rule", sorted(REFUSAL_RULES))
def test_every_refusal_rule_is_documented(rule):
    assert f"| `{rule}` |" in INGESTION


@pytest.mark.parametrize("rule", sorted(SEVERITIES) + ["nombre_de_champs"])
def test_every_row_rule_is_documented_with_its_effect(rule):
    effect = "écartée" if SEVERITIES.get(rule, "ecarter") == "ecarter" else "signalée"
    assert f"| `{rule}` | {effect} |" in INGESTION


def _sections(text: str) -> dict[str, str]:
    parts = text.split("\n## Table `")
    return {part.split("`", 1)[0]: part for part in parts[1:]}


@pytest.mark.parametrize(
    "table", sorted(__import__("pipelines.publish.model").publish.model.TABLES)
)
def test_every_published_table_and_column_is_in_the_data_dictionary(table):
    from pipelines.publish.model import TABLES

    section = _sections((ROOT / "docs" / "publication.md").read_text(encoding="utf-8")).get(table)
    assert section is not None, f"table {table} absente de docs/publication.md"
    for column, kind in TABLES[table]:
        assert f"| `{column}` | {kind} |" in section, f"{table}.{column} non documentée"
