"""The analysts' report: one self-contained HTML file per period, in ``published/``.

Self-contained because it is opened from a shared drive or an e-mail on machines without
network: styles are inlined, maps are inline SVG, no script, no font, no image is fetched.
Everything it prints comes from ``published/recours.duckdb`` (through the confined connection
of ``recours query``) and from the public INSEE reference shipped with the project; secret
cells read ``s`` and secret territories are hatched, so the report never shows more than an
analyst could query.

The work is a fixed number of vectorised reads and one pass over the published rows, whose
number does not grow with the population (the grid is 586 communes and 18 EPCIs whatever
the département's size): the report takes the same second for the demo and the whole
Haute-Garonne.
"""

from __future__ import annotations

import time
from datetime import datetime
from html import escape
from pathlib import Path

import polars as pl

from pipelines.crossing.indicators import AGE_BANDS, HOUSEHOLD_TYPES
from pipelines.publish.aggregate import EXCLUSIONS
from pipelines.publish.model import ENSEMBLE
from pipelines.report import cells, context, french, maps
from pipelines.report.model import HOUSEHOLD_LABELS, Publication, load
from recours.atomic import write_text_atomically

STYLESHEET = Path(__file__).resolve().parent / "rapport.css"
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


def report_name(period: str) -> str:
    return f"rapport_{period}.html"


def _ensemble(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter((pl.col("tranche_age") == ENSEMBLE) & (pl.col("type_menage") == ENSEMBLE))


def _table(caption: str, head: str, rows: list[str], css: str = "donnees") -> str:
    return (
        f'<table class="{css}"><caption>{escape(caption)}</caption>{head}<tbody>'
        + "".join(f"<tr>{row}</tr>" for row in rows)
        + "</tbody></table>"
    )


def _department_row(frame: pl.DataFrame) -> dict | None:
    rows = _ensemble(frame.filter(pl.col("niveau") == "departement")).to_dicts()
    return rows[0] if rows else None


# --------------------------------------------------------------------------- sections


def _summary(publication: Publication) -> str:
    """One line per indicator: the département's figures and the share already known."""
    known = publication.connus.filter(pl.col("niveau") == "departement")
    rows = []
    for indicator in publication.indicators:
        entry = publication.catalogue_entry(indicator)
        row = _department_row(publication.indicateurs.filter(pl.col("indicateur") == indicator))
        if row is None:
            continue
        link = f'<a href="#ind-{indicator}">{escape(entry.get("libelle") or indicator)}</a>'
        known_rows = known.filter(pl.col("indicateur") == indicator).to_dicts()
        known_cell = "<td>–</td>"
        if known_rows:
            k = known_rows[0]
            known_cell = cells.rate(
                k["part_connus"], cells.known_key(k, "part_connus"), bool(k["secret"])
            )
        rows.append(f'<th scope="row">{link}</th>{cells.indicator_cells(row)}{known_cell}')
    head = cells.header(
        "Indicateur",
        "Population cible",
        "Non-recours présumé",
        "Taux",
        "Part déjà connue des services sociaux",
    )
    return (
        '<section id="synthese"><h2>Synthèse pour la Haute-Garonne</h2>'
        + _table(f"Haute-Garonne, {french.period_label(publication.period)}", head, rows)
        + _skipped(publication)
        + "</section>"
    )


def _skipped(publication: Publication) -> str:
    if not publication.current_metadata:
        return ""
    reasons = {
        name.removeprefix("indicateur_ignore_"): reason
        for name, reason in publication.metadonnees.items()
        if name.startswith("indicateur_ignore_")
    }
    if not reasons:
        return ""
    items = "".join(
        f"<li><strong>{escape(name)}</strong> : {escape(reason)}</li>"
        for name, reason in sorted(reasons.items())
    )
    return (
        '<div class="note"><p>Indicateurs non calculés pour cette période :</p>'
        f"<ul>{items}</ul></div>"
    )


def _definition(entry: dict) -> str:
    return (
        '<div class="definition">'
        f"<p>{escape(entry.get('definition') or '')}</p>"
        f"<p><strong>Sources</strong> : {escape(entry.get('sources') or '')} ; conventions : "
        f"{escape(entry.get('conventions') or '')}.</p>"
        f'<p class="garde"><strong>Mises en garde</strong> : '
        f"{escape(entry.get('mises_en_garde') or '')}</p></div>"
    )


def _headline(row: dict) -> str:
    if row["secret"]:
        return (
            '<p class="chiffre-cle">Taux de non-recours présumé en Haute-Garonne : '
            + cells.span("s", cells.indicator_key(row, "taux"))
            + " (secret statistique)</p>"
        )
    return (
        '<p class="chiffre-cle">Taux de non-recours présumé en Haute-Garonne : <strong>'
        + cells.span(french.rate(row["taux"]), cells.indicator_key(row, "taux"))
        + "</strong>, soit "
        + cells.span(french.integer(row["non_recours"]), cells.indicator_key(row, "non_recours"))
        + " en non-recours présumé sur une population cible de "
        + cells.span(french.integer(row["population"]), cells.indicator_key(row, "population"))
        + ".</p>"
    )


def _maps(indicator: str, rows: pl.DataFrame, label: str) -> str:
    visible = rows.filter(~pl.col("secret") & pl.col("niveau").is_in(["epci", "commune"]))
    breaks = maps.class_breaks(visible["taux"])
    epci = _ensemble(rows.filter(pl.col("niveau") == "epci"))
    communes = rows.filter(pl.col("niveau") == "commune")
    return (
        '<div class="cartes">'
        + maps.choropleth("epci", epci, breaks, indicator, f"{label} — taux par EPCI")
        + maps.choropleth("commune", communes, breaks, indicator, f"{label} — taux par commune")
        + maps.legend(breaks)
        + "</div>"
    )


def _by_epci(rows: pl.DataFrame) -> str:
    epci = _ensemble(rows.filter(pl.col("niveau") == "epci")).sort("libelle_territoire")
    body = [
        cells.row_header(row["libelle_territoire"]) + cells.indicator_cells(row)
        for row in epci.iter_rows(named=True)
    ]
    total = _department_row(rows)
    if total:
        body.append(cells.row_header("Haute-Garonne") + cells.indicator_cells(total))
    head = cells.header("EPCI", "Population cible", "Non-recours présumé", "Taux")
    return _table("Par EPCI (partie en Haute-Garonne)", head, body)


def _breakdowns(rows: pl.DataFrame) -> str:
    """Département rows by age band, by household type, and the rate of each crossing."""
    department = rows.filter(pl.col("niveau") == "departement")
    bands = [b for b in AGE_BANDS if b in set(department["tranche_age"].to_list())]
    types = [t for t in HOUSEHOLD_TYPES if t in set(department["type_menage"].to_list())]
    lookup = {(r["tranche_age"], r["type_menage"]): r for r in department.iter_rows(named=True)}
    head = cells.header("", "Population cible", "Non-recours présumé", "Taux")
    parts = []
    by_age = [
        cells.row_header(band) + cells.indicator_cells(lookup[(band, ENSEMBLE)])
        for band in [*bands, ENSEMBLE]
        if (band, ENSEMBLE) in lookup
    ]
    parts.append(_table("Haute-Garonne, par tranche d'âge", head, by_age))
    if types:
        by_type = [
            cells.row_header(HOUSEHOLD_LABELS[kind])
            + cells.indicator_cells(lookup[(ENSEMBLE, kind)])
            for kind in [*types, ENSEMBLE]
            if (ENSEMBLE, kind) in lookup
        ]
        parts.append(_table("Haute-Garonne, par type de ménage", head, by_type))
        cross_head = cells.header(
            "Tranche d'âge", *(HOUSEHOLD_LABELS[kind] for kind in [*types, ENSEMBLE])
        )
        cross = []
        for band in [*bands, ENSEMBLE]:
            line = cells.row_header(band)
            for kind in [*types, ENSEMBLE]:
                row = lookup.get((band, kind))
                line += (
                    "<td>–</td>"
                    if row is None
                    else cells.rate(row["taux"], cells.indicator_key(row, "taux"), row["secret"])
                )
            cross.append(line)
        parts.append(
            _table("Haute-Garonne, taux par tranche d'âge et type de ménage", cross_head, cross)
        )
    return '<div class="ventilations">' + "".join(parts) + "</div>"


def _known(publication: Publication, indicator: str) -> str:
    """Among presumed non-take-up, the share already in contact with social services."""
    known = publication.connus.filter(pl.col("indicateur") == indicator)
    if known.is_empty():
        why = (
            publication.metadonnees.get(f"connus_ignore_{indicator}")
            if publication.current_metadata
            else None
        )
        return "<p>Pas de chiffres sur les personnes connues des services sociaux" + (
            f" pour cette période : non publiés ({escape(why)}).</p>" if why else ".</p>"
        )
    epci = known.filter(pl.col("niveau") == "epci").sort("libelle_territoire")
    department = known.filter(pl.col("niveau") == "departement")
    body = []
    for row in [*epci.iter_rows(named=True), *department.iter_rows(named=True)]:
        name = "Haute-Garonne" if row["niveau"] == "departement" else row["libelle_territoire"]
        secret = bool(row["secret"])
        bar = ""
        if not secret and row["part_connus"] is not None:
            bar = f'<span class="barre" style="width:{100 * row["part_connus"]:.1f}%"></span>'
        body.append(
            cells.row_header(name)
            + cells.count(row["non_recours"], cells.known_key(row, "non_recours"), secret)
            + cells.count(
                row["non_recours_connus"], cells.known_key(row, "non_recours_connus"), secret
            )
            + cells.rate(row["part_connus"], cells.known_key(row, "part_connus"), secret)
            + f'<td class="jauge">{bar}</td>'
        )
    head = cells.header("Territoire", "Non-recours présumé", "dont connus", "Part connue", "")
    return (
        "<p>Parmi les personnes ou foyers en non-recours présumé, ceux qui ont eu un contact "
        "avec les services sociaux du Département dans les 24 derniers mois : un travailleur "
        "social qui les connaît déjà peut les orienter vers le droit.</p>"
        + _table("Connus des services sociaux, par EPCI", head, body)
    )


def _context(rows: pl.DataFrame, insee: pl.DataFrame) -> str:
    epci = _ensemble(rows.filter(pl.col("niveau").is_in(["epci", "departement"])))
    joined = epci.join(insee, on="code_territoire", how="left").sort(
        pl.col("niveau") == "departement", "libelle_territoire"
    )
    body = []
    for row in joined.iter_rows(named=True):
        code = row["code_territoire"]
        name = "Haute-Garonne" if row["niveau"] == "departement" else row["libelle_territoire"]
        body.append(
            cells.row_header(name)
            + cells.rate(row["taux"], cells.indicator_key(row, "taux"), row["secret"])
            + cells.percent(row["pauvrete_pct"], cells.key("x", code, "pauvrete_pct"))
            + cells.percent(row["couverture_pct"], cells.key("x", code, "couverture_pct"))
            + cells.percent(row["chomage_pct"], cells.key("x", code, "chomage_pct"))
        )
    head = cells.header(
        "Territoire",
        "Taux de non-recours présumé",
        "Taux de pauvreté (Filosofi 2019, estimé)",
        "Couverture du taux de pauvreté",
        "Taux de chômage (RP 2018)",
    )
    return _table("Contexte territorial par EPCI", head, body) + (
        f'<p class="source">{escape(context.VINTAGES)}</p>'
    )


def _evolution(publication: Publication, indicator: str) -> str:
    history = publication.history.filter(pl.col("indicateur") == indicator)
    periods = sorted(set(history["periode"].to_list()))
    if len(periods) < 2:
        return (
            "<p>Une seule période publiée pour cet indicateur : l'évolution apparaîtra "
            "avec la prochaine publication.</p>"
        )
    lookup = {(r["code_territoire"], r["periode"]): r for r in history.iter_rows(named=True)}
    territories = (
        history.select("niveau", "code_territoire", "libelle_territoire")
        .unique(subset=["code_territoire"], keep="last")
        .sort(pl.col("niveau") == "epci", "libelle_territoire")
    )
    body = []
    for territory in territories.iter_rows(named=True):
        line = cells.row_header(territory["libelle_territoire"])
        for period in periods:
            row = lookup.get((territory["code_territoire"], period))
            line += (
                "<td>–</td>"
                if row is None
                else cells.rate(row["taux"], cells.indicator_key(row, "taux"), row["secret"])
            )
        body.append(line)
    head = cells.header("Territoire", *(escape(french.period_label(p)) for p in periods))
    return _table("Taux de non-recours présumé par période", head, body)


def _communes(rows: pl.DataFrame, territories: pl.DataFrame) -> str:
    epci_names = territories.filter(pl.col("niveau") == "epci").select(
        pl.col("code_territoire").alias("code_parent"),
        pl.col("libelle_territoire").alias("epci"),
    )
    parents = territories.filter(pl.col("niveau") == "commune").select(
        "code_territoire", "code_parent"
    )
    communes = (
        rows.filter(pl.col("niveau") == "commune")
        .join(parents, on="code_territoire", how="left")
        .join(epci_names, on="code_parent", how="left")
        .sort("libelle_territoire", "code_territoire")
    )
    body = [
        cells.row_header(row["libelle_territoire"])
        + f"<td>{escape(row['epci'] or '')}</td>"
        + cells.indicator_cells(row)
        for row in communes.iter_rows(named=True)
    ]
    head = cells.header("Commune", "EPCI", "Population cible", "Non-recours présumé", "Taux")
    return (
        f"<details><summary>Les {communes.height} communes</summary>"
        + _table("Par commune", head, body)
        + "</details>"
    )


def _indicator_section(publication: Publication, indicator: str, insee: pl.DataFrame) -> str:
    entry = publication.catalogue_entry(indicator)
    label = entry.get("libelle") or indicator
    rows = publication.indicateurs.filter(pl.col("indicateur") == indicator)
    headline = _department_row(rows)
    return (
        f'<section class="indicateur" id="ind-{indicator}" data-indicateur="{indicator}">'
        f"<h2>{escape(label)}</h2>"
        + (_headline(headline) if headline else "")
        + _definition(entry)
        + "<h3>Cartes</h3>"
        + _maps(indicator, rows, label)
        + "<h3>Par EPCI</h3>"
        + _by_epci(rows)
        + "<h3>Par tranche d'âge et type de ménage</h3>"
        + _breakdowns(rows)
        + "<h3>Déjà connus des services sociaux</h3>"
        + _known(publication, indicator)
        + "<h3>Contexte territorial</h3>"
        + _context(rows, insee)
        + "<h3>Évolution</h3>"
        + _evolution(publication, indicator)
        + "<h3>Par commune</h3>"
        + _communes(rows, publication.territoires)
        + "</section>"
    )


def _linkage_rate(measures: dict[str, int]) -> float | None:
    linked = measures.get("liees_nir", 0) + measures.get("liees_traits", 0)
    total = linked + measures.get("non_liees", 0)
    return linked / total if total and "non_liees" in measures else None


def _quality(publication: Publication) -> str:
    quality = publication.qualite
    indicators = set(publication.indicators)
    deliveries = quality.filter(~pl.col("convention").is_in(sorted(indicators)))
    by_convention: dict[str, dict[str, int]] = {}
    for row in deliveries.iter_rows(named=True):
        by_convention.setdefault(row["convention"], {})[row["mesure"]] = row["valeur"]
    period = publication.period
    body = []
    for convention, measures in sorted(by_convention.items()):
        line = cells.row_header(convention)
        for measure, _ in MEASURES:
            line += (
                cells.count(measures[measure], cells.key("q", period, convention, measure))
                if measure in measures
                else "<td>–</td>"
            )
        linkage = _linkage_rate(measures)
        line += (
            "<td>–</td>"
            if linkage is None
            else cells.rate(linkage, cells.key("l", period, convention))
        )
        body.append(line)
    head = cells.header("Convention", *(label for _, label in MEASURES), "Taux de liaison")
    parts = [_table("Livraisons et appariement, par convention", head, body)]

    reasons = []
    for row in deliveries.filter(pl.col("mesure").str.starts_with("lignes_ecartees_")).iter_rows(
        named=True
    ):
        reasons.append(
            cells.row_header(row["convention"])
            + f"<td>{escape(row['mesure'].removeprefix('lignes_ecartees_'))}</td>"
            + cells.count(row["valeur"], cells.key("q", period, row["convention"], row["mesure"]))
        )
    if reasons:
        parts.append(
            _table(
                "Lignes écartées, par motif",
                cells.header("Convention", "Motif", "Lignes"),
                reasons,
            )
        )

    pairs = []
    pair_rows = deliveries.filter(pl.col("mesure").str.contains("_avec_"))
    for row in pair_rows.sort("convention", "mesure").iter_rows(named=True):
        how, _, other = row["mesure"].partition("_avec_")
        pairs.append(
            cells.row_header(row["convention"])
            + f"<td>{escape(other)}</td>"
            + f"<td>{'NIR' if how == 'liees_nir' else 'traits d’identité'}</td>"
            + cells.count(row["valeur"], cells.key("q", period, row["convention"], row["mesure"]))
        )
    if pairs:
        parts.append(
            "<details><summary>Appariement par paire de sources</summary>"
            + _table(
                "Lignes retrouvées dans l'autre source",
                cells.header("Convention", "Autre source", "Par", "Lignes"),
                pairs,
            )
            + "</details>"
        )

    units = quality.filter(pl.col("convention").is_in(sorted(indicators)))
    unit_rows = [
        cells.row_header(row["convention"])
        + f"<td>{escape(UNIT_MEASURES.get(row['mesure'], row['mesure']))}</td>"
        + cells.count(row["valeur"], cells.key("q", period, row["convention"], row["mesure"]))
        for row in units.iter_rows(named=True)
    ]
    if unit_rows:
        parts.append(
            _table(
                "Unités de la population cible laissées hors des tableaux",
                cells.header("Indicateur", "Raison", "Unités"),
                unit_rows,
            )
        )
    return (
        '<section id="qualite"><h2>Qualité des données</h2>'
        "<p>Le taux de liaison est la part des lignes d'une livraison retrouvées dans au "
        "moins une autre source (par le NIR, ou à défaut par les traits d'identité "
        "pseudonymisés). Une personne non retrouvée est comptée comme sans droit dans "
        "l'autre source : un taux de liaison faible gonfle le non-recours présumé.</p>"
        + "".join(parts)
        + "</section>"
    )


def _caveats(publication: Publication) -> str:
    meta = publication.metadonnees if publication.current_metadata else {}
    threshold = meta.get("seuil_publication", "11")
    protection = meta.get("protection", "")
    return (
        '<div class="avertissement"><p><strong>Des présomptions, pas des preuves.</strong> '
        "Chaque chiffre compte des personnes ou des foyers qui <em>semblent</em> éligibles "
        "d'après ce que savent les partenaires et ne perçoivent pas la prestation. Les "
        "partenaires ne connaissent ni le patrimoine, ni toutes les ressources, ni la "
        "condition de résidence : ce n'est jamais un constat sur quelqu'un, mais une "
        "indication pour orienter l'aller-vers.</p>"
        f"<p><strong>Secret statistique.</strong> Une case qui compte entre 1 et "
        f"{escape(threshold)} − 1 personnes (ou dont le complément est aussi petit, ou dont "
        "tout le monde serait en non-recours) est retirée : elle est notée « s » dans les "
        "tableaux et hachurée sur les cartes."
        + (f" Protection appliquée : {escape(protection)}." if protection else "")
        + "</p></div>"
    )


def _about(publication: Publication) -> str:
    meta = publication.metadonnees if publication.current_metadata else {}
    items = [
        ("Période", french.period_label(publication.period)),
        ("Périodes publiées", ", ".join(publication.periods)),
        ("Traitement", meta.get("execution", "–")),
        ("Date du traitement", meta.get("date_execution", "–")),
        ("Conventions", meta.get("conventions", "–")),
        ("Livraisons", meta.get("livraisons", "–")),
        ("Seuil de publication", meta.get("seuil_publication", "–")),
    ]
    rows = "".join(
        f'<tr><th scope="row">{escape(name)}</th><td>{escape(value)}</td></tr>'
        for name, value in items
    )
    return (
        '<section id="apropos"><h2>À propos de cette publication</h2>'
        f'<table class="meta">{rows}</table>'
        "<p>Les mêmes chiffres, et toutes les ventilations, sont dans "
        "<code>recours.duckdb</code>, les fichiers Parquet et CSV de ce dossier, le dossier "
        "<code>exports/</code> (un fichier par indicateur et par niveau, et un classeur "
        "Excel) et par <code>recours query</code>. Le dictionnaire des données est "
        "<code>docs/publication.md</code> ; le guide des analystes, "
        "<code>docs/analystes.md</code>.</p>"
        "<p>Contours : IGN Admin Express (2018, communes fusionnées au code officiel "
        "géographique 2026), Licence Ouverte. Territoires et populations : INSEE, code "
        "officiel géographique 2026, populations légales 2023.</p></section>"
    )


def _contents(publication: Publication) -> str:
    links = [('<a href="#synthese">Synthèse</a>')]
    for indicator in publication.indicators:
        label = publication.catalogue_entry(indicator).get("libelle") or indicator
        links.append(f'<a href="#ind-{indicator}">{escape(label)}</a>')
    links += ['<a href="#qualite">Qualité des données</a>', '<a href="#apropos">À propos</a>']
    return (
        '<nav class="sommaire"><ol>' + "".join(f"<li>{link}</li>" for link in links) + "</ol></nav>"
    )


def render_html(publication: Publication) -> str:
    """The whole document as a string (no file written)."""
    insee = context.by_epci()
    css = STYLESHEET.read_text(encoding="utf-8") + "\n" + maps.palette_css()
    label = french.period_label(publication.period)
    generated = datetime.now().astimezone().strftime("%d/%m/%Y à %H:%M")
    sections = "".join(
        _indicator_section(publication, indicator, insee) for indicator in publication.indicators
    )
    return (
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Non-recours présumé en Haute-Garonne — {escape(label)}</title>"
        f"<style>{css}</style></head><body>"
        + maps.definitions()
        + "<header><h1>Non-recours présumé aux droits sociaux en Haute-Garonne</h1>"
        f'<p class="sous-titre">Situation à la fin de {escape(label)} — programme « Territoire '
        f"zéro non-recours » — rapport produit le {escape(generated)}</p></header>"
        + "<main>"
        + _caveats(publication)
        + _contents(publication)
        + _summary(publication)
        + sections
        + _quality(publication)
        + _about(publication)
        + "</main></body></html>\n"
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
