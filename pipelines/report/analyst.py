"""The analysts' report: one self-contained HTML file per period, in ``published/``.

Self-contained because it is opened from a shared drive or an e-mail on machines without
network: styles are inlined, maps are inline SVG, no font, no image, nothing is fetched (a
Content-Security-Policy meta tag forbids it). The only script sorts the long tables; it is
inline, allowed by its hash, and the tables are written already ordered by rate, so the report
reads the same without it. Everything it prints comes from ``published/recours.duckdb``
(through the confined connection of ``recours query``) and from the public INSEE reference and
zoning shipped with the project; secret cells read ``s`` and secret territories are hatched,
so the report never shows more than an analyst could query.

Per indicator, the zone map comes first (the level fitted to the secret, where nearly every
area has a value), then the communes, a zoom on Toulouse Métropole, and the EPCIs; every
territory's rate sits beside its difference to the département's; a rate resting on a poorly
linked source carries a warning (``pipelines.report.linkage``); the period's exports are
linked by relative paths (``exports/<période>/``, beside the report).

This module reads and orders; the template ``rapport_analystes.html.j2`` (written by
``pipelines.templating``) makes the page of what it hands over, every text escaped.

The work is a fixed number of vectorised reads and one pass over the published rows, whose
number does not grow with the population (the grid is 586 communes, 150 zones and 18 EPCIs
whatever the département's size): the report takes the same second for the demo and the whole
Haute-Garonne.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from pipelines import templating
from pipelines.crossing.indicators import AGE_BANDS, HOUSEHOLD_TYPES
from pipelines.publish.aggregate import EXCLUSIONS
from pipelines.publish.least_loss import utility_figures
from pipelines.publish.model import ENSEMBLE
from pipelines.report import cells, context, exports, linkage, maps, page
from pipelines.report.cells import Cell, Table
from pipelines.report.model import HOUSEHOLD_LABELS, Publication, load
from recours import french
from recours.atomic import write_text_atomically

TEMPLATE = "rapport_analystes.html.j2"
MEASURES = (
    ("lignes_lues", "lignes lues"),
    ("lignes_ecartees", "lignes écartées"),
    ("doublons", "doublons"),
    ("nir_invalide", "NIR invalide"),
    ("nir_absent", "NIR absent"),
    ("hors_departement", "hors département"),
    ("liees_nir", "liées par le NIR"),
    ("liees_traits", "liées par les traits"),
    ("non_liees", "non liées"),
)
# The publication's own reasons for leaving a unit out of the grid (``qualite``: unites_<reason>).
UNIT_MEASURES = {f"unites_{reason}": label for reason, label in EXCLUSIONS.items()}
# Sub-département levels, top down, with what the report calls them.
LEVEL_LABELS = {"epci": "EPCI", "zone": "zones d'observation", "commune": "communes"}
EXPORT_LABELS = {
    "departement": "département",
    "epci": "EPCI",
    "zone": "zones",
    "commune": "communes",
    "connus": "connus des services sociaux",
}
DIFFERENCE = "Écart au département"


def report_name(period: str) -> str:
    return f"rapport_{period}.html"


def _ensemble(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter((pl.col("tranche_age") == ENSEMBLE) & (pl.col("type_menage") == ENSEMBLE))


def _department_row(frame: pl.DataFrame) -> dict | None:
    rows = _ensemble(frame.filter(pl.col("niveau") == "departement")).to_dicts()
    return rows[0] if rows else None


def by_rate(frame: pl.DataFrame, name: str = "libelle_territoire") -> pl.DataFrame:
    """Published rates first, highest first; then territories nobody is concerned by; secret
    rows last (their rank would say something about their value); names break ties."""
    rank = (
        pl.when(pl.col("secret"))
        .then(pl.lit(2))
        .when(pl.col("taux").is_null())
        .then(pl.lit(1))
        .otherwise(pl.lit(0))
    )
    return (
        frame.with_columns(rank.alias("_rang"))
        .sort(["_rang", "taux", name], descending=[False, True, False], nulls_last=True)
        .drop("_rang")
    )


@dataclass(frozen=True)
class View:
    """What every section needs besides its rows: the publication, the linkage warnings, the
    INSEE context, where the exports are (relative to the report)."""

    publication: Publication
    weak: dict[tuple[str, str], tuple[linkage.WeakSource, ...]]
    insee: pl.DataFrame
    exports_href: str  # e.g. "exports/2026-10", relative to the report's folder

    def warning(self, indicator: str, period: str | None = None) -> linkage.Alert | None:
        """The mark after a rate of ``indicator`` for ``period`` (this one by default)."""
        weak = self.weak.get((indicator, period or self.publication.period))
        return linkage.mark(indicator, weak) if weak else None

    def row_warning(self, row: dict) -> linkage.Alert | None:
        return self.warning(row["indicateur"], row["periode"])


def _view(publication: Publication) -> View:
    folder = exports.export_folder(publication.folder, publication.period)
    return View(
        publication=publication,
        weak=linkage.weak_sources(publication.catalogue, publication.quality_history),
        insee=context.by_epci(),
        exports_href=folder.relative_to(publication.folder).as_posix(),
    )


# --------------------------------------------------------------------------- sections
# Each returns what its part of the template needs: tables of cells, texts, maps.


def _summary(view: View) -> dict:
    """One line per indicator: the département's figures and the share already known."""
    publication = view.publication
    known = publication.connus.filter(pl.col("niveau") == "departement")
    rows = []
    for indicator in publication.indicators:
        entry = publication.catalogue_entry(indicator)
        row = _department_row(publication.indicateurs.filter(pl.col("indicateur") == indicator))
        if row is None:
            continue
        known_rows = known.filter(pl.col("indicateur") == indicator).to_dicts()
        known_cell = cells.MISSING
        if known_rows:
            k = known_rows[0]
            known_cell = cells.rate(
                k["part_connus"], cells.known_key(k, "part_connus"), bool(k["secret"])
            )
        rows.append(
            [
                cells.row_header(entry.get("libelle") or indicator, href=f"#ind-{indicator}"),
                *cells.indicator_cells(row, view.row_warning(row)),
                known_cell,
            ]
        )
    head = cells.header(
        "Indicateur",
        "Population cible",
        "Non-recours présumé",
        "Taux",
        "Part déjà connue des services sociaux",
    )
    return {
        "table": Table(f"Haute-Garonne, {french.period_label(publication.period)}", head, rows),
        "skipped": _skipped(publication),
    }


def _skipped(publication: Publication) -> list[tuple[str, str]]:
    """The indicators the run left out, with why (none before the metadata said so)."""
    if not publication.current_metadata:
        return []
    reasons = {
        name.removeprefix("indicateur_ignore_"): reason
        for name, reason in publication.metadonnees.items()
        if name.startswith("indicateur_ignore_")
    }
    return sorted(reasons.items())


def _headline(row: dict, warning: linkage.Alert | None) -> dict:
    return {
        "secret": bool(row["secret"]),
        "taux": Cell(
            "s" if row["secret"] else french.rate(row["taux"]), cells.indicator_key(row, "taux")
        ),
        "alert": warning,
        "non_recours": Cell(
            french.integer(row["non_recours"]), cells.indicator_key(row, "non_recours")
        ),
        "population": Cell(
            french.integer(row["population"]), cells.indicator_key(row, "population")
        ),
    }


def _downloads(view: View, indicator: str) -> dict:
    """Relative links to the period's export files of this indicator, and to the workbook."""
    stems = exports.frames(view.publication)
    groups = [
        (
            kind.upper(),
            [
                (f"{view.exports_href}/{indicator}_{part}.{kind}", label)
                for part, label in EXPORT_LABELS.items()
                if f"{indicator}_{part}" in stems
            ],
        )
        for kind in ("csv", "parquet")
    ]
    workbook = f"{view.exports_href}/{exports.workbook_name(view.publication.period)}"
    return {"groups": groups, "workbook": workbook}


def _maps(view: View, indicator: str, rows: pl.DataFrame, label: str) -> dict:
    """The zone map first, the communes, the legend, the zoom on Toulouse Métropole, the
    EPCIs; one set of classes for all of them (the zones' rates when the level is published,
    so that its five classes are all used)."""
    shown = rows.filter(~pl.col("secret"))
    zone_rates = _ensemble(shown.filter(pl.col("niveau") == "zone"))["taux"].drop_nulls()
    rates = (
        zone_rates
        if not zone_rates.is_empty()
        else _ensemble(shown.filter(pl.col("niveau").is_in(["epci", "commune"])))["taux"]
    )
    breaks = maps.class_breaks(rates)
    zones = _ensemble(rows.filter(pl.col("niveau") == "zone"))
    epci = _ensemble(rows.filter(pl.col("niveau") == "epci"))
    communes = _ensemble(rows.filter(pl.col("niveau") == "commune"))
    metropole = view.publication.territoires.filter(
        (pl.col("niveau") == "epci") & (pl.col("code_territoire") == maps.TOULOUSE_METROPOLE)
    )
    metropole_name = (
        metropole["libelle_territoire"][0] if metropole.height else "Toulouse Métropole"
    )
    weak = view.weak.get((indicator, view.publication.period))
    return {
        "before": [
            maps.choropleth(
                "zone", zones, breaks, indicator, f"{label} — taux par zone d'observation"
            ),
            maps.choropleth("commune", communes, breaks, indicator, f"{label} — taux par commune"),
        ],
        "legend": maps.legend(breaks, rates, _department_row(rows)),
        "weak": linkage.describe(weak) if weak else None,
        "anchor": linkage.anchor(indicator),
        "after": [
            maps.choropleth(
                "commune",
                communes,
                breaks,
                indicator,
                f"{label} — zoom sur les communes de {metropole_name}",
                epci=maps.TOULOUSE_METROPOLE,
            ),
            maps.choropleth("epci", epci, breaks, indicator, f"{label} — taux par EPCI"),
        ],
    }


def _names(territories: pl.DataFrame, level: str, code: str, name: str) -> pl.DataFrame:
    return territories.filter(pl.col("niveau") == level).select(
        pl.col("code_territoire").alias(code), pl.col("libelle_territoire").alias(name)
    )


def _by_zone(view: View, rows: pl.DataFrame) -> Table | None:
    """Every zone, its EPCI, its figures and its difference to the département, by rate."""
    territories = view.publication.territoires
    department = _department_row(rows)
    zones = by_rate(
        _ensemble(rows.filter(pl.col("niveau") == "zone"))
        .join(
            territories.filter(pl.col("niveau") == "zone").select("code_territoire", "code_epci"),
            on="code_territoire",
            how="left",
        )
        .join(_names(territories, "epci", "code_epci", "epci"), on="code_epci", how="left")
    )
    if zones.is_empty():
        return None
    body = [
        [
            cells.row_header(row["libelle_territoire"]),
            cells.text(row["epci"]),
            *cells.indicator_cells(row, view.row_warning(row)),
            cells.difference(row, department),
        ]
        for row in zones.iter_rows(named=True)
    ]
    head = cells.header(
        "Zone",
        "EPCI",
        "Population cible",
        "Non-recours présumé",
        "Taux",
        DIFFERENCE,
        numeric_from=2,
    )
    return Table("Par zone d'observation", head, body, "donnees triable")


def _by_epci(view: View, rows: pl.DataFrame) -> Table:
    department = _department_row(rows)
    epci = by_rate(_ensemble(rows.filter(pl.col("niveau") == "epci")))
    body = [
        [
            cells.row_header(row["libelle_territoire"]),
            *cells.indicator_cells(row, view.row_warning(row)),
            cells.difference(row, department),
        ]
        for row in epci.iter_rows(named=True)
    ]
    head = cells.header(
        "EPCI", "Population cible", "Non-recours présumé", "Taux", DIFFERENCE, numeric_from=1
    )
    foot = None
    if department is not None:
        foot = [
            cells.row_header("Haute-Garonne"),
            *cells.indicator_cells(department, view.row_warning(department)),
            cells.EMPTY,
        ]
    return Table("Par EPCI (partie en Haute-Garonne)", head, body, "donnees triable", foot)


def _breakdowns(view: View, rows: pl.DataFrame) -> list[Table]:
    """Département rows by age band, by household type, and the rate of each crossing."""
    department = rows.filter(pl.col("niveau") == "departement")
    bands = [b for b in AGE_BANDS if b in set(department["tranche_age"].to_list())]
    types = [t for t in HOUSEHOLD_TYPES if t in set(department["type_menage"].to_list())]
    lookup = {(r["tranche_age"], r["type_menage"]): r for r in department.iter_rows(named=True)}
    head = cells.header("", "Population cible", "Non-recours présumé", "Taux")
    by_age = [
        [
            cells.row_header(band),
            *cells.indicator_cells(
                lookup[(band, ENSEMBLE)], view.row_warning(lookup[(band, ENSEMBLE)])
            ),
        ]
        for band in [*bands, ENSEMBLE]
        if (band, ENSEMBLE) in lookup
    ]
    tables = [Table("Haute-Garonne, par tranche d'âge", head, by_age)]
    if types:
        by_type = [
            [
                cells.row_header(HOUSEHOLD_LABELS[kind]),
                *cells.indicator_cells(
                    lookup[(ENSEMBLE, kind)], view.row_warning(lookup[(ENSEMBLE, kind)])
                ),
            ]
            for kind in [*types, ENSEMBLE]
            if (ENSEMBLE, kind) in lookup
        ]
        tables.append(Table("Haute-Garonne, par type de ménage", head, by_type))
        cross_head = cells.header(
            "Tranche d'âge", *(HOUSEHOLD_LABELS[kind] for kind in [*types, ENSEMBLE])
        )
        cross = []
        for band in [*bands, ENSEMBLE]:
            line = [cells.row_header(band)]
            for kind in [*types, ENSEMBLE]:
                row = lookup.get((band, kind))
                line.append(
                    cells.MISSING
                    if row is None
                    else cells.rate(
                        row["taux"],
                        cells.indicator_key(row, "taux"),
                        row["secret"],
                        view.row_warning(row),
                    )
                )
            cross.append(line)
        tables.append(
            Table("Haute-Garonne, taux par tranche d'âge et type de ménage", cross_head, cross)
        )
    return tables


def _known(publication: Publication, indicator: str) -> dict:
    """Among presumed non-take-up, the share already in contact with social services."""
    known = publication.connus.filter(pl.col("indicateur") == indicator)
    if known.is_empty():
        why = (
            publication.metadonnees.get(f"connus_ignore_{indicator}")
            if publication.current_metadata
            else None
        )
        return {"table": None, "why": why}
    epci = known.filter(pl.col("niveau") == "epci").sort("libelle_territoire")
    department = known.filter(pl.col("niveau") == "departement")
    body = []
    for row in [*epci.iter_rows(named=True), *department.iter_rows(named=True)]:
        name = "Haute-Garonne" if row["niveau"] == "departement" else row["libelle_territoire"]
        secret = bool(row["secret"])
        # an SVG bar: the page's policy allows no style attribute
        bar = (
            f"{100 * row['part_connus']:.1f}"
            if not secret and row["part_connus"] is not None
            else ""
        )
        body.append(
            [
                cells.row_header(name),
                cells.count(row["non_recours"], cells.known_key(row, "non_recours"), secret),
                cells.count(
                    row["non_recours_connus"], cells.known_key(row, "non_recours_connus"), secret
                ),
                cells.rate(row["part_connus"], cells.known_key(row, "part_connus"), secret),
                Cell(bar=bar),
            ]
        )
    head = cells.header("Territoire", "Non-recours présumé", "dont connus", "Part connue", "")
    return {"table": Table("Connus des services sociaux, par EPCI", head, body), "why": None}


def _context(view: View, rows: pl.DataFrame) -> Table:
    epci = _ensemble(rows.filter(pl.col("niveau").is_in(["epci", "departement"])))
    joined = epci.join(view.insee, on="code_territoire", how="left").sort(
        pl.col("niveau") == "departement", "libelle_territoire"
    )
    body = []
    for row in joined.iter_rows(named=True):
        code = row["code_territoire"]
        name = "Haute-Garonne" if row["niveau"] == "departement" else row["libelle_territoire"]
        body.append(
            [
                cells.row_header(name),
                cells.rate(
                    row["taux"],
                    cells.indicator_key(row, "taux"),
                    row["secret"],
                    view.row_warning(row),
                ),
                cells.percent(row["pauvrete_pct"], cells.key("x", code, "pauvrete_pct")),
                cells.percent(row["couverture_pct"], cells.key("x", code, "couverture_pct")),
                cells.percent(row["chomage_pct"], cells.key("x", code, "chomage_pct")),
            ]
        )
    head = cells.header(
        "Territoire",
        "Taux de non-recours présumé",
        "Taux de pauvreté (Filosofi 2019, estimé)",
        "Couverture du taux de pauvreté",
        "Taux de chômage (RP 2018)",
    )
    return Table("Contexte territorial par EPCI", head, body)


def _evolution(view: View, indicator: str) -> Table | None:
    """Every published period's rates side by side; None while only one period is published."""
    history = view.publication.history.filter(pl.col("indicateur") == indicator)
    periods = sorted(set(history["periode"].to_list()))
    if len(periods) < 2:
        return None
    lookup = {(r["code_territoire"], r["periode"]): r for r in history.iter_rows(named=True)}
    territories = (
        history.select("niveau", "code_territoire", "libelle_territoire")
        .unique(subset=["code_territoire"], keep="last")
        .sort(pl.col("niveau") == "epci", "libelle_territoire")
    )
    body = []
    for territory in territories.iter_rows(named=True):
        line = [cells.row_header(territory["libelle_territoire"])]
        for period in periods:
            row = lookup.get((territory["code_territoire"], period))
            line.append(
                cells.MISSING
                if row is None
                else cells.rate(
                    row["taux"],
                    cells.indicator_key(row, "taux"),
                    row["secret"],
                    view.row_warning(row),
                )
            )
        body.append(line)
    head = cells.header("Territoire", *(french.period_label(p) for p in periods))
    return Table("Taux de non-recours présumé par période", head, body)


def _communes(view: View, rows: pl.DataFrame) -> Table:
    territories = view.publication.territoires
    department = _department_row(rows)
    communes = by_rate(
        _ensemble(rows.filter(pl.col("niveau") == "commune"))
        .join(
            territories.filter(pl.col("niveau") == "commune").select(
                "code_territoire",
                pl.col("code_parent").alias("code_zone"),
                "code_epci",
            ),
            on="code_territoire",
            how="left",
        )
        .join(_names(territories, "zone", "code_zone", "zone"), on="code_zone", how="left")
        .join(_names(territories, "epci", "code_epci", "epci"), on="code_epci", how="left")
    )
    body = [
        [
            cells.row_header(row["libelle_territoire"]),
            cells.text(row["zone"]),
            cells.text(row["epci"]),
            *cells.indicator_cells(row, view.row_warning(row)),
            cells.difference(row, department),
        ]
        for row in communes.iter_rows(named=True)
    ]
    head = cells.header(
        "Commune",
        "Zone",
        "EPCI",
        "Population cible",
        "Non-recours présumé",
        "Taux",
        DIFFERENCE,
        numeric_from=3,
    )
    return Table("Par commune", head, body, "donnees triable")


def _indicator_section(view: View, indicator: str) -> dict:
    publication = view.publication
    entry = publication.catalogue_entry(indicator)
    label = entry.get("libelle") or indicator
    rows = publication.indicateurs.filter(pl.col("indicateur") == indicator)
    headline = _department_row(rows)
    weak = view.weak.get((indicator, publication.period))
    return {
        "id": indicator,
        "label": label,
        "headline": _headline(headline, view.row_warning(headline)) if headline else None,
        "weak": linkage.describe(weak) if weak else None,
        "anchor": linkage.anchor(indicator),
        "entry": {
            name: entry.get(name) or ""
            for name in ("definition", "sources", "conventions", "mises_en_garde")
        },
        "downloads": _downloads(view, indicator),
        "maps": _maps(view, indicator, rows, label),
        "zones": _by_zone(view, rows),
        "epci": _by_epci(view, rows),
        "breakdowns": _breakdowns(view, rows),
        "known": _known(publication, indicator),
        "context": _context(view, rows),
        "evolution": _evolution(view, indicator),
        "communes": _communes(view, rows),
    }


def _quality(publication: Publication) -> list[tuple[str | None, Table]]:
    """The quality tables, each with the summary it is folded under (None: shown open)."""
    quality = publication.qualite
    indicators = set(publication.indicators)
    deliveries = quality.filter(~pl.col("convention").is_in(sorted(indicators)))
    by_convention: dict[str, dict[str, int]] = {}
    for row in deliveries.iter_rows(named=True):
        by_convention.setdefault(row["convention"], {})[row["mesure"]] = row["valeur"]
    period = publication.period
    body = []
    for convention, measures in sorted(by_convention.items()):
        line = [cells.row_header(convention)]
        for measure, _ in MEASURES:
            line.append(
                cells.count(measures[measure], cells.key("q", period, convention, measure))
                if measure in measures
                else cells.MISSING
            )
        rate = linkage.linkage_rate(measures)
        low = rate is not None and rate < linkage.LOW_LINKAGE
        line.append(
            cells.MISSING
            if rate is None
            else cells.rate(
                rate, cells.key("l", period, convention), alert=linkage.LOW if low else None
            )
        )
        body.append(line)
    head = cells.header("Convention", *(label for _, label in MEASURES), "Taux de liaison")
    parts: list[tuple[str | None, Table]] = [
        (None, Table("Livraisons et appariement, par convention", head, body))
    ]

    reasons = [
        [
            cells.row_header(row["convention"]),
            cells.text(row["mesure"].removeprefix("lignes_ecartees_")),
            cells.count(row["valeur"], cells.key("q", period, row["convention"], row["mesure"])),
        ]
        for row in deliveries.filter(
            pl.col("mesure").str.starts_with("lignes_ecartees_")
        ).iter_rows(named=True)
    ]
    if reasons:
        parts.append(
            (
                None,
                Table(
                    "Lignes écartées, par motif",
                    cells.header("Convention", "Motif", "Lignes"),
                    reasons,
                ),
            )
        )

    pairs = []
    pair_rows = deliveries.filter(pl.col("mesure").str.contains("_avec_"))
    for row in pair_rows.sort("convention", "mesure").iter_rows(named=True):
        how, _, other = row["mesure"].partition("_avec_")
        pairs.append(
            [
                cells.row_header(row["convention"]),
                cells.text(other),
                cells.text("NIR" if how == "liees_nir" else "traits d’identité"),
                cells.count(
                    row["valeur"], cells.key("q", period, row["convention"], row["mesure"])
                ),
            ]
        )
    if pairs:
        parts.append(
            (
                "Appariement par paire de sources",
                Table(
                    "Lignes retrouvées dans l'autre source",
                    cells.header("Convention", "Autre source", "Par", "Lignes"),
                    pairs,
                ),
            )
        )

    units = quality.filter(pl.col("convention").is_in(sorted(indicators)))
    unit_rows = [
        [
            cells.row_header(row["convention"]),
            cells.text(UNIT_MEASURES.get(row["mesure"], row["mesure"])),
            cells.count(row["valeur"], cells.key("q", period, row["convention"], row["mesure"])),
        ]
        for row in units.iter_rows(named=True)
    ]
    if unit_rows:
        parts.append(
            (
                None,
                Table(
                    "Unités de la population cible laissées hors des tableaux",
                    cells.header("Indicateur", "Raison", "Unités"),
                    unit_rows,
                ),
            )
        )
    return parts


def utility(indicateurs: pl.DataFrame) -> pl.DataFrame:
    """What the secret leaves visible, per indicator and level below the département (the
    figures of :func:`~pipelines.publish.least_loss.utility_figures`, read from the published
    table, so without the primary/secondary split): rows and withheld rows (every breakdown),
    territories, those with a published rate, and the share of the département's target
    population living in a territory whose figures are published."""
    return (
        utility_figures(indicateurs)
        .filter(pl.col("niveau").is_in(list(LEVEL_LABELS)))
        .select(
            "indicateur",
            "niveau",
            "lignes",
            pl.col("lignes_secretes").alias("lignes_retirees"),
            "territoires",
            pl.col("territoires_non_vides_avec_valeur").alias("avec_taux"),
            pl.col("part_population_montree").alias("part_population"),
        )
    )


def _utility(publication: Publication) -> Table:
    figures = {
        (row["indicateur"], row["niveau"]): row
        for row in utility(publication.indicateurs).iter_rows(named=True)
    }
    period = publication.period
    body = []
    for indicator in publication.indicators:
        label = publication.catalogue_entry(indicator).get("libelle") or indicator
        for level, level_label in LEVEL_LABELS.items():
            row = figures.get((indicator, level))
            if row is None:
                continue

            def keyed(measure: str, level: str = level, indicator: str = indicator) -> str:
                return cells.key("u", indicator, period, level, measure)

            body.append(
                [
                    cells.row_header(label),
                    cells.text(level_label),
                    cells.count(row["territoires"], keyed("territoires")),
                    cells.count(row["avec_taux"], keyed("avec_taux")),
                    cells.rate(row["part_population"], keyed("part_population")),
                    cells.count(row["lignes_retirees"], keyed("lignes_retirees")),
                    cells.count(row["lignes"], keyed("lignes")),
                ]
            )
    head = cells.header(
        "Indicateur",
        "Niveau",
        "Territoires",
        "dont avec un taux publié",
        "Part de la population cible dans ces territoires",
        "Lignes retirées (secret)",
        "Lignes (toutes ventilations)",
    )
    return Table("Ce que le secret statistique laisse voir", head, body)


def _about(view: View) -> list[tuple[str, str]]:
    publication = view.publication
    meta = publication.metadonnees if publication.current_metadata else {}
    return [
        ("Période", french.period_label(publication.period)),
        ("Périodes publiées", ", ".join(publication.periods)),
        ("Traitement", meta.get("execution", "–")),
        ("Date du traitement", meta.get("date_execution", "–")),
        ("Conventions", meta.get("conventions", "–")),
        ("Livraisons", meta.get("livraisons", "–")),
        ("Seuil de publication", meta.get("seuil_publication", "–")),
        ("Zones d'observation", meta.get("zonage", "–")),
    ]


def render_html(publication: Publication) -> str:
    """The whole document as a string (no file written)."""
    view = _view(publication)
    css = templating.stylesheet() + "\n" + maps.palette_css()
    meta = publication.metadonnees if publication.current_metadata else {}
    return templating.render(
        TEMPLATE,
        css=templating.safe(css),
        policy=page.policy(css),
        script=templating.safe(page.SORT_SCRIPT),
        hatch=maps.HATCH_ID,
        mark=linkage.MARK,
        low_linkage=french.rate(linkage.LOW_LINKAGE),
        period=french.period_label(publication.period),
        generated=datetime.now().astimezone().strftime("%d/%m/%Y à %H:%M"),
        threshold=meta.get("seuil_publication", "11"),
        protection=meta.get("protection", ""),
        contents=[
            (indicator, publication.catalogue_entry(indicator).get("libelle") or indicator)
            for indicator in publication.indicators
        ],
        summary=_summary(view),
        sections=[_indicator_section(view, indicator) for indicator in publication.indicators],
        vintages=context.VINTAGES,
        quality=_quality(publication),
        about=_about(view),
        utility=_utility(publication),
        exports_href=view.exports_href,
        workbook=f"{view.exports_href}/{exports.workbook_name(publication.period)}",
    )


def build_report(published_dir: Path, period: str | None = None) -> Path:
    """Write ``published_dir/rapport_<period>.html`` (latest published period by default).

    Reads only ``published_dir/recours.duckdb``; the file is written aside then moved into
    place, so a reader never sees half a report. Raises ``ReportError`` when there is no
    publication or no such period.
    """
    publication = load(Path(published_dir), period)
    target = publication.folder / report_name(publication.period)
    return write_text_atomically(target, render_html(publication))


def time_report(published_dir: Path, period: str | None = None) -> tuple[Path, float]:
    """``build_report`` and its wall-clock seconds, for ``make bench``."""
    start = time.perf_counter()
    path = build_report(published_dir, period)
    return path, time.perf_counter() - start
