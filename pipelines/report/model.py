"""The publication as the report and the exports read it: one period's tables, from DuckDB only.

The file is opened through ``pipelines.publish.query.connect``, the confined read-only connection of
``recours query``: the report sees exactly what an analyst's SQL sees, and nothing of the
warehouse or of the pseudonymized zone, even by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines.publish.query import DATABASE, QueryError, connect
from recours.errors import RecoursError

# The catalogue's order (docs/regles.md); an indicator not listed here comes after, by name.
ORDER = ("rsa", "prime_activite", "aspa", "css_rsa", "css_bas_revenus", "demandeurs_sans_revenu")
HOUSEHOLD_LABELS = {
    "ensemble": "Ensemble",
    "personne_seule": "Personne seule",
    "famille_monoparentale": "Famille monoparentale",
    "couple_sans_enfant": "Couple sans enfant",
    "couple_avec_enfants": "Couple avec enfants",
}


class ReportError(RecoursError):
    """The report or the exports cannot be made: no publication, or no such period."""


@dataclass(frozen=True)
class Publication:
    """One period of the publication, as frames (every column as published)."""

    folder: Path
    period: str
    periods: tuple[str, ...]  # every published period, oldest first
    indicators: tuple[str, ...]  # published for this period, in the catalogue's order
    indicateurs: pl.DataFrame  # this period
    history: pl.DataFrame  # département and EPCI `ensemble` rows, every period
    connus: pl.DataFrame  # this period
    catalogue: pl.DataFrame
    territoires: pl.DataFrame
    metadonnees: dict[str, str]
    qualite: pl.DataFrame  # this period
    quality_history: pl.DataFrame  # qualite, every period (for the evolution's linkage marks)

    def catalogue_entry(self, indicator: str) -> dict[str, str]:
        rows = self.catalogue.filter(pl.col("indicateur") == indicator).to_dicts()
        return rows[0] if rows else {"indicateur": indicator, "libelle": indicator}

    @property
    def current_metadata(self) -> bool:
        """``metadonnees`` describes the last run: does it describe this period?"""
        return self.metadonnees.get("periode") == self.period


def _ordered(names: list[str]) -> tuple[str, ...]:
    known = [name for name in ORDER if name in names]
    return tuple(known + sorted(set(names) - set(known)))


def _frame(connection: duckdb.DuckDBPyConnection, sql: str, parameters: list) -> pl.DataFrame:
    return connection.sql(sql, params=parameters or None).pl()


def _with_epci(territoires: pl.DataFrame) -> pl.DataFrame:
    """A publication written before the zone level has no ``code_epci``: a commune's parent
    was then its EPCI. Rebuilt here so that ``recours rapport`` still reads such a folder."""
    if "code_epci" in territoires.columns:
        return territoires
    return territoires.with_columns(
        pl.when(pl.col("niveau") == "epci")
        .then(pl.col("code_territoire"))
        .when(pl.col("niveau") == "commune")
        .then(pl.col("code_parent"))
        .alias("code_epci")
    )


def load(published_dir: Path, period: str | None = None) -> Publication:
    """Read ``period`` (by default the latest published) from ``published_dir/recours.duckdb``.

    Raises ``ReportError`` when there is no publication or the period is not published.
    """
    folder = Path(published_dir)
    if not (folder / DATABASE).is_file():
        raise ReportError(f"aucune publication dans {folder} : lancer d'abord `recours run`")
    try:
        connection = connect(folder)
    except QueryError as error:
        raise ReportError(str(error)) from None
    try:
        periods = tuple(
            row[0]
            for row in connection.execute(
                "SELECT DISTINCT periode FROM indicateurs ORDER BY periode"
            ).fetchall()
        )
        if not periods:
            raise ReportError(f"la publication de {folder} ne contient aucune période")
        chosen = period or periods[-1]
        if chosen not in periods:
            raise ReportError(
                f"la période {chosen} n'est pas publiée dans {folder} "
                f"(périodes publiées : {', '.join(periods)})"
            )
        indicateurs = _frame(
            connection, "SELECT * FROM indicateurs WHERE periode = ? ORDER BY ALL", [chosen]
        )
        history = _frame(
            connection,
            "SELECT * FROM indicateurs WHERE niveau IN ('departement', 'epci') "
            "AND tranche_age = 'ensemble' AND type_menage = 'ensemble' ORDER BY ALL",
            [],
        )
        connus = _frame(connection, "SELECT * FROM connus WHERE periode = ? ORDER BY ALL", [chosen])
        catalogue = _frame(connection, "SELECT * FROM catalogue ORDER BY indicateur", [])
        territoires = _with_epci(_frame(connection, "SELECT * FROM territoires ORDER BY ALL", []))
        metadonnees = dict(connection.execute("SELECT cle, valeur FROM metadonnees").fetchall())
        quality_history = _frame(connection, "SELECT * FROM qualite ORDER BY ALL", [])
    finally:
        connection.close()
    return Publication(
        folder=folder,
        period=chosen,
        periods=periods,
        indicators=_ordered(indicateurs["indicateur"].unique().to_list()),
        indicateurs=indicateurs,
        history=history,
        connus=connus,
        catalogue=catalogue,
        territoires=territoires,
        metadonnees=metadonnees,
        qualite=quality_history.filter(pl.col("periode") == chosen),
        quality_history=quality_history,
    )
