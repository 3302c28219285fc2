"""The one command line: ``recours`` (docs/architecture.md, "Les contrats")."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape

from app.console import (
    console,
    crossing_table,
    delivery_table,
    progress_bar,
    progress_callback,
    refusals,
)
from recours import french
from recours.errors import RecoursError
from recours.home import DEFAULT_HOME, Home

if TYPE_CHECKING:
    from pipelines.publish.query import Format  # click.Choice below holds exactly these

# What main() needs to word an unexpected failure: the home in use and the --debug flag.
_RUN: dict[str, Any] = {"home": None, "debug": False}


def _remember_home(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    _RUN["home"] = value
    return value


HOME_OPTION = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_HOME,
    show_default=True,
    envvar="RECOURS_HOME",
    callback=_remember_home,
    help="Dossier de travail (landing/, quarantine/, pseudonymized/, published/, audit/).",
)
CONVENTIONS_OPTION = click.option(
    "--conventions",
    "conventions_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Dossier des conventions (par défaut : conventions/ du dépôt).",
)


def _tell_waiting(message: str) -> None:
    click.echo(message, err=True)


def _writer(
    command: str, when: Callable[[dict[str, Any]], bool] = lambda _: True
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Run a writing command under the home's lock, umask 077 and modes (recours/lock.py):
    one writer per home. ``when`` says, from the command's options, whether it writes."""

    def decorate(function: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            if not when(kwargs):
                return function(*args, **kwargs)
            from recours.lock import writing

            with writing(kwargs["home"], command, on_wait=_tell_waiting):
                return function(*args, **kwargs)

        return wrapper

    return decorate


# The largest size measured whose `make demo` stays under 3 minutes on 2 idle cores: 2 min 52 s
# at 300 000 persons, as at 50 000 (the secret costs no more); at 1 471 468 the processing alone
# takes 4 min 7 s (make bench), before generation and Airflow (docs/performance.md).
DEMO_PERSONS = 300_000


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="recours")
@click.option(
    "--debug",
    is_flag=True,
    help="En cas d'erreur, affiche aussi la trace Python (pour les développeurs ; elle peut "
    "citer des données).",
)
def cli(debug: bool) -> None:
    """recours — croisements pseudonymisés contre le non-recours aux droits sociaux."""
    _RUN["debug"] = debug


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
@_writer("recours synth")
def synth(home: Path, persons: int, seed: int, period: str | None, same_spelling: bool) -> None:
    """Écrit des livraisons synthétiques dans HOME/landing/ et la vérité dans HOME/truth/."""
    from synth import synthesize
    from synth.dates import parse_period

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
    console.print(
        f"{french.integer(summary.persons)} personnes synthétiques, période {summary.period}"
    )
    for convention, rows in summary.rows.items():
        console.print(f"  {convention} : {french.integer(rows)} lignes")


@cli.command()
@HOME_OPTION
@CONVENTIONS_OPTION
@click.option(
    "--period",
    metavar="AAAA-MM",
    default=None,
    help=(
        "Période à publier (par défaut : la plus récente où au moins un indicateur peut être "
        "calculé)."
    ),
)
@_writer("recours run")
def run(home: Path, conventions_dir: Path | None, period: str | None) -> None:
    """Traite les livraisons en attente, croise, publie (published/recours.duckdb) et écrit le
    rapport des analystes, comme le DAG crossing."""
    from pipelines import cycle
    from pipelines.crossing.run import summary_dict
    from pipelines.keys.keyfile import check_key_file_env

    check_key_file_env()  # a key file others can read is refused, as by keys rotate

    with progress_bar() as bar:
        outcomes = cycle.ingest(Home(home), conventions_dir, progress_callback(bar, "Ingestion"))
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
        crossing = cycle.cross_and_publish(
            Home(home), period, conventions_dir, progress_callback(bar, "Croisement")
        )
    console.print(crossing_table(summary_dict(crossing)))
    console.print(f"Publication : {Home(home).published / 'recours.duckdb'}", markup=False)
    restricted = crossing.disclosure.get("audit_restreint", [])
    if restricted:
        console.print(f"Audit restreint du secret (DPO) : {restricted[-1]}", markup=False)
    report, _ = cycle.report(Home(home), crossing.period)
    console.print(f"Rapport des analystes : {report}", markup=False)


@cli.command()
@HOME_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "csv-rfc", "json", "xlsx"]),
    default="table",
    show_default=True,
    help="Présentation du résultat (csv : pour Excel en français, « ; » et virgule décimale ; "
    "csv-rfc : virgule et point décimal ; xlsx : classeur Excel, avec --out).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Écrit le résultat dans ce fichier (hors du dossier de travail) au lieu de l'afficher.",
)
@click.option("--force", is_flag=True, help="Remplace le fichier --out s'il existe déjà.")
@click.option(
    "--delai",
    type=float,
    default=60.0,
    show_default=True,
    metavar="SECONDES",
    help="Durée au-delà de laquelle la requête est arrêtée.",
)
@click.option(
    "--memoire",
    default="2GB",
    show_default=True,
    metavar="TAILLE",
    help="Mémoire au-delà de laquelle la requête est arrêtée (ex. 500MB, 4GB).",
)
@click.argument("sql")
def query(
    home: Path, fmt: Format, out: Path | None, force: bool, delai: float, memoire: str, sql: str
) -> None:
    """Exécute SQL sur la publication seule (published/recours.duckdb), en lecture seule.

    `recours query tables` liste les tables publiées et leurs colonnes, avec leur sens.
    """
    from pipelines.publish.query import Limits, run_query

    limits = Limits(seconds=delai, memory=memoire)
    published = Home(home).published
    click.echo(run_query(published, sql, fmt, out, force=force, limits=limits, home=home), nl=False)


@cli.command()
@HOME_OPTION
@click.option(
    "--period",
    metavar="AAAA-MM",
    default=None,
    help="Période du rapport (par défaut : la plus récente publiée).",
)
def rapport(home: Path, period: str | None) -> None:
    """Écrit le rapport HTML des analystes et les exports (published/ seul)."""
    from pipelines import cycle

    report, exports = cycle.report(Home(home), period)
    console.print(f"Rapport : {report}", markup=False)
    console.print(
        f"Exports ({len(exports)} fichiers) : {exports[0].parent}"
        f" — classeur {[p for p in exports if p.suffix == '.xlsx'][0].name}",
        markup=False,
    )


@cli.group()
def conventions() -> None:
    """Conventions bilatérales : vérification."""


@conventions.command("check")
@click.argument(
    "directory", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
def conventions_check(directory: Path | None) -> None:
    """Vérifie les conventions de DIRECTORY (par défaut conventions/) et dit où est le problème."""
    from pipelines.crossing.plan import catalogue_problems
    from recours.conventions import DEFAULT_DIR, check_with_warnings, load_conventions

    folder = directory or DEFAULT_DIR
    found, warned = check_with_warnings(folder)
    problems, warnings = [str(p) for p in found], [str(w) for w in warned]
    if not problems:  # the catalogue's indicators: do the conventions let their sources meet?
        crossing_problems, crossing_warnings = catalogue_problems(load_conventions(folder))
        problems, warnings = [*problems, *crossing_problems], [*warnings, *crossing_warnings]
    for problem in [*problems, *warnings]:
        console.print(str(problem), markup=False, soft_wrap=True)
    also = f" ; {len(warnings)} avertissement(s)" if warnings else ""
    if problems:
        console.print(
            f"{len(problems)} problème(s) dans {folder}{also}", markup=False, soft_wrap=True
        )
        sys.exit(1)
    console.print(f"Conventions de {folder} : aucun problème{also}.", markup=False, soft_wrap=True)


@cli.group()
def zonage() -> None:
    """Zones d'observation : construction et vérification du zonage publié."""


@zonage.command("construire")
@click.option(
    "--plancher",
    type=click.IntRange(500, 5000),
    default=2700,
    show_default=True,
    help="Population minimale d'une zone (habitants, population municipale 2023).",
)
@click.option("--version", "version", required=True, help="Version du zonage, ex. 2026-1.")
@click.option(
    "--sortie",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Dossier où écrire (par défaut les données de référence du projet).",
)
def zonage_construire(plancher: int, version: str, sortie: Path | None) -> None:
    """Construit les zones depuis les populations INSEE et les contours IGN, et en donne les
    chiffres ; écrit zonage_31.csv, .geojson et .yaml, à relire avant de les livrer."""
    from recours.zoning_build import build_zoning, write_zoning

    frame, figures = build_zoning(plancher)
    for line in figures.lines():
        console.print(line, markup=False, soft_wrap=True)
    if sortie is not None:
        sortie.mkdir(parents=True, exist_ok=True)
    for path in write_zoning(frame, figures, version, sortie):
        console.print(f"écrit : {path}", markup=False, soft_wrap=True)


@zonage.command("verifier")
@click.argument(
    "fichier", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def zonage_verifier(fichier: Path | None) -> None:
    """Vérifie un zonage (par défaut celui du projet) : chaque commune une fois, une zone dans
    un seul EPCI, des zones d'un seul tenant."""
    from recours.zoning import ZONING_CSV, read_zoning

    path = fichier or ZONING_CSV
    frame = read_zoning(path)
    console.print(
        f"{path} : {frame['code_zone'].n_unique()} zones, {frame.height} communes, conforme.",
        markup=False,
        soft_wrap=True,
    )


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
    default=DEMO_PERSONS,
    show_default=True,
    help="Taille de la Haute-Garonne synthétique de démonstration (par défaut 300 000 : la "
    "démonstration tient alors en moins de 3 minutes sur 2 cœurs ; 1471468, toute sa "
    "population, pour que la carte des zones d'observation ait une valeur presque partout).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--period", metavar="AAAA-MM", default=None)
def demo(home: Path, persons: int, seed: int, period: str | None) -> None:
    """Démonstration : livraisons synthétiques, puis les vrais DAG Airflow en local."""
    from app.demo import run_demo
    from recours.lock import home_lock

    if home.exists():  # the home is recreated: refuse while another writer works in it
        with home_lock(home, "recours demo", on_wait=_tell_waiting):
            pass

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
    report = home / "published" / f"rapport_{crossing.get('periode')}.html"
    if crossing and report.is_file():
        console.print(f"Rapport des analystes (cartes, tableaux) : {report}", markup=False)


@cli.group(invoke_without_command=True)
@HOME_OPTION
@CONVENTIONS_OPTION
@click.option(
    "--date",
    "report_date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    metavar="AAAA-MM-JJ",
    help="Date de situation du rapport (échéances, conservation ; par défaut : aujourd'hui).",
)
@click.pass_context
@_writer("recours audit", when=lambda _: click.get_current_context().invoked_subcommand is None)
def audit(
    ctx: click.Context, home: Path, conventions_dir: Path | None, report_date: object
) -> None:
    """Rapport du DPO (audit/rapport_dpo.html et .json) ; `audit verify` : le journal."""
    if ctx.invoked_subcommand is not None:
        return
    from datetime import date, datetime

    from pipelines.dpo_report import write_dpo_report

    today = report_date.date() if isinstance(report_date, datetime) else date.today()
    html, data = write_dpo_report(home, conventions_dir, today)
    click.echo(f"Rapport du DPO : {html}")
    click.echo(f"Mêmes faits en JSON : {data}")


@audit.command("verify")
@HOME_OPTION
def audit_verify(home: Path) -> None:
    """Vérifie le journal d'audit et son ancre ; code 1 sur une rupture non acquittée."""
    from pipelines.dpo_report import previous_anchor
    from recours.audit_log import anchor_path, check_chain, journal_path

    audit_dir = Home(home).audit
    anchor = previous_anchor(audit_dir)
    status = check_chain(audit_dir, anchor)
    click.echo(f"Journal : {journal_path(audit_dir)} (ancre : {anchor_path(audit_dir)})")
    if anchor is not None:
        click.echo(f"Comparé au sceau du {anchor.source} (événement n° {anchor.seq}).")
    for done in status.acknowledged:
        click.echo(
            f"Rupture acquittée le {done.when} par {done.by} "
            f"(ligne {done.line}) : {' ; '.join(done.breaks) or '—'}. Motif : {done.reason}"
        )
    if status.intact:
        also = ", ruptures acquittées mises à part" if status.acknowledged else ""
        click.echo(f"Chaîne intacte : {status.events} événement(s){also}.")
        if status.last_seq is not None:
            click.echo(f"Sceau : événement n° {status.last_seq}, empreinte {status.last_hash}")
        return
    click.echo(f"CHAÎNE ROMPUE à la ligne {status.line} : {status.reason}")
    if status.events:
        also = ", hormis les ruptures acquittées" if status.acknowledged else ""
        click.echo(f"Les lignes 1 à {status.events} sont intactes{also}.")
    for other in status.problems[1:]:
        click.echo(f"Autre rupture non acquittée, {other}")
    click.echo(
        "Après enquête (docs/dpo.md, « Vérifier le journal d'audit ») : recours audit acquitter "
        f'--home {home} --par "NOM" --motif "CE QUE L\'ENQUÊTE A ÉTABLI"'
    )
    sys.exit(1)


@audit.command("acquitter")
@HOME_OPTION
@click.option(
    "--par", "by", required=True, metavar="NOM", help="Qui acquitte (inscrit au journal)."
)
@click.option(
    "--motif",
    "reason",
    required=True,
    metavar="TEXTE",
    help="Ce que l'enquête a établi (inscrit au journal).",
)
@_writer("recours audit acquitter")
def audit_acknowledge(home: Path, by: str, reason: str) -> None:
    """Acquitte les ruptures du journal constatées, par un événement du journal lui-même."""
    from pipelines.dpo_report import previous_anchor
    from recours.audit_log import acknowledge

    audit_dir = Home(home).audit
    event = acknowledge(audit_dir, by, reason, previous_anchor(audit_dir))
    if event is None:
        click.echo(f"Rien à acquitter : le journal {audit_dir / 'journal.jsonl'} est intact.")
        return
    for item in event["ruptures"]:
        click.echo(f"Acquittée : ligne {item['ligne']} : {item['raison']}")
    click.echo(
        f"Acquittement inscrit au journal (événement n° {event['seq']}, rupture_acquittee) ; "
        "les ruptures qui apparaîtraient ensuite seront signalées."
    )


@cli.command()
@HOME_OPTION
@CONVENTIONS_OPTION
@click.option(
    "--dry-run",
    is_flag=True,
    help="Liste ce qui serait supprimé, sans rien supprimer ni journaliser.",
)
@click.option(
    "--date",
    "on",
    metavar="AAAA-MM-JJ",
    default=None,
    help="Date du jour de la purge (par défaut : aujourd'hui).",
)
@_writer("recours purge", when=lambda options: not options["dry_run"])
def purge(home: Path, conventions_dir: Path | None, dry_run: bool, on: str | None) -> None:
    """Supprime ce qui a dépassé la durée de conservation de sa convention, et le journalise."""
    from datetime import date

    from pipelines.retention import purge as run_purge
    from recours.conventions import load_conventions

    try:
        today = date.fromisoformat(on) if on else date.today()
    except ValueError:
        raise click.BadParameter(
            "date attendue au format AAAA-MM-JJ", param_hint="--date"
        ) from None
    report = run_purge(
        Home(home),
        load_conventions(conventions_dir),
        today,
        dry_run,
        conventions_dir=conventions_dir,
    )
    verb = "serait supprimé" if dry_run else "supprimé"
    for deletion in report.deletions:
        console.print(f"{deletion.path} : {verb} — {deletion.why}", markup=False)
    console.print(
        f"{len(report.deletions)} élément(s), {french.integer(report.bytes_freed)} octets"
        + (" (simulation : rien n'a été supprimé)" if dry_run else ""),
        markup=False,
    )
    if report.warehouse_removed:
        console.print("Entrepôt " + ("à supprimer" if dry_run else "supprimé"), markup=False)
    if report.recrossed_period:
        console.print(f"Entrepôt reconstruit : période {report.recrossed_period}", markup=False)
    elif report.rebuild_skipped:
        console.print(f"Entrepôt non reconstruit : {report.rebuild_skipped}", markup=False)
    if report.affected_publications:
        periods = ", ".join(report.affected_publications)
        console.print(f"Périodes publiées reposant sur ce qui est supprimé : {periods}")


@cli.group()
def keys() -> None:
    """Clé de pseudonymisation : changement de clé."""


@keys.command("rotate")
@HOME_OPTION
@CONVENTIONS_OPTION
@click.option(
    "--new-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Fichier de la nouvelle clé (hexadécimal, mode 0600) ; créé s'il n'existe pas.",
)
@_writer("recours keys rotate")
def keys_rotate(home: Path, conventions_dir: Path | None, new_key_file: Path) -> None:
    """Repseudonymise toute la zone pseudonymisée sous une nouvelle clé, depuis landing/."""
    from pipelines.keys import rotate
    from pipelines.keys.keyfile import check_key_file_env, read_new_key

    check_key_file_env()

    key_hex, created = read_new_key(new_key_file)
    if created:
        console.print(f"Nouvelle clé créée : {new_key_file} (mode 0600)", markup=False)
    report = rotate(Home(home), conventions_dir, key_hex)
    console.print(
        f"{len(report.deliveries)} livraison(s) repseudonymisée(s) ; clé "
        f"{', '.join(report.old_fingerprints) or '—'} → {report.new_fingerprint}",
        markup=False,
    )
    if report.recrossed_period:
        console.print(f"Entrepôt reconstruit : période {report.recrossed_period}", markup=False)
    elif report.recross_skipped:
        console.print(f"Entrepôt non reconstruit : {report.recross_skipped}", markup=False)
    console.print(
        f"Remplacer maintenant la clé en service par celle de {new_key_file} (Variable Airflow "
        "recours_pseudo_key_secret, RECOURS_PSEUDO_KEY_FILE) avant la prochaine ingestion.",
        markup=False,
    )


def main() -> None:
    """Every failure is a message: a RecoursError's own (exit 2), any other worded by
    ``failure_message`` from its kind and path (exit 1); the traceback only with --debug."""
    os.umask(0o077)  # private at rest (recours/modes.py): nothing is created readable by others
    try:
        cli(standalone_mode=True)
    except RecoursError as exc:
        if _RUN["debug"]:
            traceback.print_exc()
        console.print(f"[bold red]Erreur :[/] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    except Exception as exc:
        from recours.errors import failure_message

        if _RUN["debug"]:
            traceback.print_exc()
        message = failure_message(exc, _RUN["home"])
        console.print(f"[bold red]Erreur :[/] {escape(message)}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
