"""The one command line: ``recours`` (DESIGN.md, "Contracts")."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape

from recours.console import (
    console,
    crossing_table,
    delivery_table,
    progress_bar,
    progress_callback,
    refusals,
    thousands,
)
from recours.errors import RecoursError
from recours.home import DEFAULT_HOME, Home

HOME_OPTION = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_HOME,
    show_default=True,
    envvar="RECOURS_HOME",
    help="Dossier de travail (landing/, quarantine/, pseudonymized/, published/, audit/).",
)
CONVENTIONS_OPTION = click.option(
    "--conventions",
    "conventions_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Dossier des conventions (par défaut : conventions/ du dépôt).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="recours")
def cli() -> None:
    """recours — croisements pseudonymisés contre le non-recours aux droits sociaux."""


@cli.command()
@HOME_OPTION
@click.option(
    "--persons",
    type=click.IntRange(min=1),
    default=1_471_468,
    show_default=True,
    help="Nombre de personnes de la Haute-Garonne synthétique.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Graine du tirage.")
@click.option(
    "--period",
    metavar="AAAA-MM",
    default=None,
    help="Mois de référence des livraisons (par défaut : le mois dernier).",
)
@click.option(
    "--same-spelling",
    is_flag=True,
    help="Toutes les sources orthographient les identités de la même façon.",
)
def synth(home: Path, persons: int, seed: int, period: str | None, same_spelling: bool) -> None:
    """Écrit des livraisons synthétiques dans HOME/landing/ et la vérité dans HOME/truth/."""
    from recours.synth import synthesize
    from recours.synth.dates import parse_period

    try:
        parse_period(period) if period else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from None
    with progress_bar() as bar:
        summary = synthesize(
            home,
            persons=persons,
            seed=seed,
            period=period,
            same_spelling=same_spelling,
            progress=progress_callback(bar, "Génération"),
        )
    console.print(f"{thousands(summary.persons)} personnes synthétiques, période {summary.period}")
    for convention, rows in summary.rows.items():
        console.print(f"  {convention} : {thousands(rows)} lignes")


@cli.command()
@HOME_OPTION
@CONVENTIONS_OPTION
@click.option(
    "--period",
    metavar="AAAA-MM",
    default=None,
    help="Période à publier (par défaut : la plus récente où chaque convention a livré).",
)
def run(home: Path, conventions_dir: Path | None, period: str | None) -> None:
    """Traite les livraisons en attente, croise et publie (published/recours.duckdb)."""
    from pipelines.crossing.run import cross_and_publish, summary_dict
    from pipelines.ingest.run import ingest_all

    with progress_bar() as bar:
        outcomes = ingest_all(Home(home), conventions_dir, progress_callback(bar, "Ingestion"))
    summaries = [o.summary() for o in outcomes]
    if summaries:
        console.print(delivery_table(summaries))
        for line in refusals(summaries):
            console.print(line, markup=False)
        if refusals(summaries):
            console.print(f"Fichiers refusés et motifs : {Home(home).quarantine}/")
    else:
        console.print(f"Aucune livraison en attente dans {Home(home).landing}.")
    with progress_bar() as bar:
        crossing = cross_and_publish(
            Home(home), period, conventions_dir, progress_callback(bar, "Croisement")
        )
    console.print(crossing_table(summary_dict(crossing)))
    console.print(f"Publication : {Home(home).published / 'recours.duckdb'}", markup=False)


@cli.command()
@HOME_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Présentation du résultat.",
)
@click.argument("sql")
def query(home: Path, fmt: str, sql: str) -> None:
    """Exécute SQL sur la publication seule (published/recours.duckdb), en lecture seule."""
    from recours.query import run_query

    click.echo(run_query(Home(home).published, sql, fmt))


@cli.group()
def conventions() -> None:
    """Conventions bilatérales : vérification."""


@conventions.command("check")
@click.argument(
    "directory", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
def conventions_check(directory: Path | None) -> None:
    """Vérifie les conventions de DIRECTORY (par défaut conventions/) et dit où est le problème."""
    from recours.conventions import DEFAULT_DIR, check_conventions

    folder = directory or DEFAULT_DIR
    problems = check_conventions(folder)
    for problem in problems:
        console.print(str(problem), markup=False)
    if problems:
        console.print(f"{len(problems)} problème(s) dans {folder}")
        sys.exit(1)
    console.print(f"Conventions de {folder} : aucun problème.")


@cli.command()
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_HOME / "demo",
    show_default=True,
    help="Dossier de la démonstration (recréé à chaque fois).",
)
@click.option(
    "--persons",
    type=click.IntRange(min=1),
    default=50_000,
    show_default=True,
    help="Taille de la Haute-Garonne synthétique de démonstration.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--period", metavar="AAAA-MM", default=None)
def demo(home: Path, persons: int, seed: int, period: str | None) -> None:
    """Démonstration : livraisons synthétiques, puis les vrais DAG Airflow en local."""
    from recours.demo import run_demo

    summaries, crossing = run_demo(home, persons=persons, seed=seed, period=period)
    console.print(delivery_table(summaries))
    if crossing:
        console.print(crossing_table(crossing))
    for line in refusals(summaries):
        console.print(line, markup=False)
    console.print(
        f"Données pseudonymisées : {home / 'pseudonymized'} ; journal d'audit : "
        f"{home / 'audit' / 'journal.jsonl'} ; journaux Airflow : {home / 'airflow' / 'logs'}",
        markup=False,
    )


def main() -> None:
    try:
        cli(standalone_mode=True)
    except RecoursError as exc:
        console.print(f"[bold red]Erreur :[/] {escape(str(exc))}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
