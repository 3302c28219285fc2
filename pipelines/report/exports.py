"""Exports for Excel and notebooks: one file per indicator and level, and one workbook.

Analysts often want "the RSA by commune" and nothing else. ``published/exports/<period>/``
holds, per indicator, ``<indicateur>_<niveau>.csv`` and ``.parquet`` for the three levels,
``<indicateur>_connus.csv`` and ``.parquet`` (département and EPCIs), and
``recours_<period>.xlsx``: a "lisez-moi" sheet (definitions, sources, columns, secret rule),
then one sheet per indicator with every level and breakdown, and one for ``connus``.

The files hold the published rows unchanged: same columns and types as the tables of
``recours.duckdb`` (the CSV in the French Excel dialect of ``pipelines.publish.export``), a
secret row with empty counts. Each file is written aside and moved into place.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import polars as pl

from pipelines.publish.export import french_csv
from pipelines.publish.model import LEVELS
from pipelines.publish.query import data_dictionary
from pipelines.report import context
from pipelines.report.model import Publication, load
from recours import french
from recours.atomic import write_atomically

SECRET_RULE = (
    "Secret statistique : une ligne est retirée (secret = oui, chiffres vides) quand sa "
    "population, son non-recours ou leur différence est comprise entre 1 et le seuil moins 1, "
    "ou quand tout le monde y serait en non-recours ; dans connus, quand les connus ou les "
    "non-connus sont entre 1 et le seuil moins 1. Ne pas additionner des lignes pour retrouver "
    "un total : prendre la ligne « ensemble » ou le niveau supérieur."
)


def workbook_name(period: str) -> str:
    """The period's workbook; the analysts' report links to it by this name."""
    return f"recours_{period}.xlsx"


def export_folder(published_dir: Path, period: str) -> Path:
    return Path(published_dir) / "exports" / period


def frames(publication: Publication) -> dict[str, pl.DataFrame]:
    """File stem → rows, in the published columns and order."""
    result: dict[str, pl.DataFrame] = {}
    for indicator in publication.indicators:
        rows = publication.indicateurs.filter(pl.col("indicateur") == indicator)
        for level in LEVELS:
            result[f"{indicator}_{level}"] = rows.filter(pl.col("niveau") == level)
        known = publication.connus.filter(pl.col("indicateur") == indicator)
        if not known.is_empty():
            result[f"{indicator}_connus"] = known
    return result


def write_exports(published_dir: Path, period: str | None = None) -> list[Path]:
    """Write the period's exports (latest published by default); the paths written.

    Reads only ``published_dir/recours.duckdb``. Raises ``ReportError`` when there is no
    publication or no such period.
    """
    publication = load(Path(published_dir), period)
    folder = export_folder(publication.folder, publication.period)
    folder.mkdir(parents=True, exist_ok=True)
    folder.parent.chmod(0o750)  # the analysts' group reads the exports (umask 077 made them 0700)
    folder.chmod(0o750)
    written: list[Path] = []
    for stem, frame in frames(publication).items():
        written.append(write_atomically(folder / f"{stem}.csv", partial(french_csv, frame)))
        written.append(write_atomically(folder / f"{stem}.parquet", frame.write_parquet))
    workbook = folder / workbook_name(publication.period)
    written.append(write_atomically(workbook, lambda p: write_workbook(publication, p)))
    return written


def _readme_rows(publication: Publication) -> list[tuple[str, str]]:
    meta = publication.metadonnees if publication.current_metadata else {}
    rows: list[tuple[str, str]] = [
        ("Publication", "Non-recours présumé aux droits sociaux en Haute-Garonne"),
        ("Période", f"{publication.period} ({french.period_label(publication.period)})"),
        ("Périodes publiées", ", ".join(publication.periods)),
        ("Traitement", f"{meta.get('execution', '–')} du {meta.get('date_execution', '–')}"),
        ("Seuil de publication", meta.get("seuil_publication", "–")),
        ("Protection", meta.get("protection", "–")),
        ("Zones d'observation", meta.get("zonage", "–")),
        ("Secret statistique", SECRET_RULE),
        (
            "Taux",
            "taux et part_connus sont les proportions publiées (entre 0 et 1), affichées en "
            "pourcentage ; le classeur les garde à 16 chiffres significatifs (Excel calcule "
            "avec 15), les fichiers CSV et Parquet exactement.",
        ),
        (
            "Avertissement",
            "Des présomptions, pas des preuves : chaque chiffre compte des personnes ou foyers "
            "qui semblent éligibles d'après ce que savent les partenaires et ne perçoivent pas "
            "la prestation ; jamais un constat sur quelqu'un.",
        ),
        ("Contexte territorial (rapport HTML)", context.VINTAGES),
        ("", ""),
        ("Indicateurs", ""),
    ]
    for indicator in publication.indicators:
        entry = publication.catalogue_entry(indicator)
        rows += [
            (indicator, entry.get("libelle") or ""),
            ("  définition", entry.get("definition") or ""),
            ("  sources", entry.get("sources") or ""),
            ("  conventions", entry.get("conventions") or ""),
            ("  mises en garde", entry.get("mises_en_garde") or ""),
        ]
    dictionary = data_dictionary()
    for table in ("indicateurs", "connus"):
        doc = dictionary.get(table)
        if doc is None:
            continue
        rows += [("", ""), (f"Colonnes ({table})", doc.description)]
        rows += [(f"  {name}", meaning) for name, (_, meaning) in doc.columns.items()]
    return rows


def write_workbook(publication: Publication, path: Path) -> None:
    """The workbook: "lisez-moi", one sheet per indicator, "connus". Counts are numbers,
    rates numbers with a percent format (the exact published value is kept), a secret row
    has empty counts."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"in_memory": True})
    try:
        bold = workbook.add_format({"bold": True})
        wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
        percent = workbook.add_format({"num_format": "0.0%"})
        readme = workbook.add_worksheet("lisez-moi")
        readme.set_column(0, 0, 34)
        readme.set_column(1, 1, 110, wrap)
        for number, (name, text) in enumerate(_readme_rows(publication)):
            readme.write_string(number, 0, name, bold)
            readme.write_string(number, 1, text)
        for indicator in publication.indicators:
            rows = publication.indicateurs.filter(pl.col("indicateur") == indicator)
            _sheet(workbook, indicator[:31], rows, bold, percent)
        if not publication.connus.is_empty():
            _sheet(workbook, "connus", publication.connus, bold, percent)
    finally:
        workbook.close()


def _sheet(workbook, name: str, frame: pl.DataFrame, bold, percent) -> None:
    sheet = workbook.add_worksheet(name)
    sheet.write_row(0, 0, frame.columns, bold)
    sheet.freeze_panes(1, 0)
    for index, (column, kind) in enumerate(frame.schema.items()):
        values = frame[column].to_list()
        style = percent if column in ("taux", "part_connus") else None
        sheet.set_column(index, index, max(12, len(column) + 2))
        for number, value in enumerate(values, start=1):
            if value is None:
                continue
            if kind == pl.Boolean:
                sheet.write_string(number, index, "oui" if value else "non")
            elif kind in (pl.Int64, pl.Float64):
                sheet.write_number(number, index, value, style)
            else:
                sheet.write_string(number, index, value)
    sheet.autofilter(0, 0, frame.height, frame.width - 1)
