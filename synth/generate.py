"""``synthesize``: a synthetic Haute-Garonne, its five partner deliveries and the planted truth.

Stages: population (households commune by commune), rights (incomes, benefits, take-up),
deliveries (who each partner knows and how it writes them), files (streamed slice by slice,
written under a ``.part`` name and renamed when complete, as partners do), truth.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from recours.schemas import Schema, load_schemas
from synth.dates import default_period, reference_date
from synth.deliveries import CONVENTIONS, QUALITE, build_deliveries
from synth.economy import CATEGORIES, build_economy
from synth.population import build_population
from synth.render import INDEMNISATION, Renderer
from synth.takeup import territorial_effects
from synth.territory import Territory, allocate, load_territory
from synth.truth import planted_truth, truth_geography
from synth.writers import write_delimited, write_workbook

Progress = Callable[[str, int, int], None]
SLICE = 100_000
DEFAULT_PERSONS = 1_471_468


@dataclass(frozen=True)
class SynthSummary:
    """What was generated, for the CLI to print and tests to check."""

    period: str
    reference_date: date
    persons: int
    households: int
    seed: int
    same_spelling: bool
    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    truth: Path | None = None


def synthesize(
    home: Path,
    persons: int = DEFAULT_PERSONS,
    seed: int = 0,
    period: str | None = None,
    same_spelling: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> SynthSummary:
    """Write the five deliveries into ``home/landing/<convention>/`` and the truth into
    ``home/truth/``. Same arguments, same bytes.

    ``period`` is ``AAAA-MM`` (default: the month before today); every delivery is extracted on
    R, the last day of that month. ``progress(stage, done, total)`` is called as work advances,
    with the stages ``population`` (communes), ``droits``, then each convention id (lines
    written) and ``vérité``.
    """
    if persons < 1:
        raise ValueError(f"nombre de personnes invalide : {persons} (au moins 1)")
    if seed < 0:
        raise ValueError(f"graine invalide : {seed} (entier positif ou nul attendu)")
    period = period or default_period()
    reference = reference_date(period)
    home = Path(home)
    report = progress or (lambda stage, done, total: None)
    schemas = {schema.convention: schema for schema in load_schemas().values()}
    missing = [c for c in CONVENTIONS if c not in schemas]
    if missing:
        raise ValueError(f"dessins de fichiers introuvables pour : {', '.join(missing)}")

    territory = load_territory()
    counts = allocate(territory.population, persons)
    pop = build_population(territory, counts, seed, reference, report)
    report("droits", 0, 1)
    build_economy(pop, territory, territorial_effects(territory, seed), seed)
    deliveries = build_deliveries(pop, seed, same_spelling)
    report("droits", 1, 1)

    renderer = Renderer(pop, territory, seed)
    stamp = reference.strftime("%Y%m%d")
    files, rows = {}, {}
    for convention in CONVENTIONS:
        schema = schemas[convention]
        target = home / "landing" / convention / schema.file_name.format(date=stamp)
        rows[convention] = _write(
            target, schema, deliveries[convention], renderer, report, reference
        )
        files[convention] = target

    truth_dir = home / "truth"
    report("vérité", 0, 1)
    _write_truth(truth_dir, deliveries, territory, reference, period)
    summary = SynthSummary(
        period=period,
        reference_date=reference,
        persons=persons,
        households=pop.households,
        seed=seed,
        same_spelling=same_spelling,
        rows=rows,
        files=files,
        truth=truth_dir,
    )
    _write_meta(truth_dir, summary, pop.households)
    report("vérité", 1, 1)
    return summary


def _write(
    target: Path,
    schema: Schema,
    records: pl.DataFrame,
    renderer: Renderer,
    report: Progress,
    reference: date,
) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    render = getattr(renderer, schema.convention)
    total = records.height
    convention = schema.convention
    report(convention, 0, total)

    def slices():  # noqa: ANN202
        for start in range(0, max(total, 1), SLICE):
            yield render(records.slice(start, SLICE))

    def on_slice(done: int) -> None:
        report(convention, done, total)

    if schema.format == "xlsx":
        lines = write_workbook(partial, schema, slices(), reference.strftime("%d/%m/%Y"), on_slice)
    else:
        lines = write_delimited(partial, schema, slices(), on_slice)
    os.replace(partial, target)
    return lines


def _views(deliveries: dict[str, pl.DataFrame], territory: Territory) -> dict[str, pl.DataFrame]:
    """The deliveries' values as the truth reads them (labels as the files write them)."""
    codes = pl.Series(territory.codes.astype(str), dtype=pl.String)

    def commune(frame: pl.DataFrame) -> pl.Series:
        return codes.gather(frame["commune"].cast(pl.Int64)).alias("commune")

    def labels(values: tuple[str, ...], column: pl.Series) -> pl.Series:
        return pl.Series(values, dtype=pl.String).gather(column.cast(pl.Int64))

    def yes_no(column: pl.Series) -> pl.Series:
        return labels(("N", "O"), column)

    caf = deliveries["caf31"]
    carsat = deliveries["carsatmp"]
    ft = deliveries["ftocc"]
    return {
        "caf31": caf.select(
            "record",
            "person_id",
            "household_id",
            "birth_year",
            "birth_month",
            "nbenfcharge",
            "resstrim",
            "revacttrim",
            "mtal",
        ).with_columns(
            labels(QUALITE, caf["qualite"]).alias("qualite"),
            commune(caf),
            yes_no(caf["droitrsa"]).alias("droitrsa"),
            yes_no(caf["droitppa"]).alias("droitppa"),
            yes_no(caf["droitaah"]).alias("droitaah"),
        ),
        "cpam31": deliveries["cpam31"].select("record", "person_id", "date_debut", "date_fin"),
        "carsatmp": carsat.select(
            "record", "person_id", "birth_year", "birth_month", "pension"
        ).with_columns(commune(carsat), carsat["aspa"].cast(pl.Int8).cast(pl.String).alias("aspa")),
        "ftocc": ft.select(
            "record", "person_id", "birth_year", "birth_month", "date_inscription"
        ).with_columns(
            commune(ft),
            labels(CATEGORIES, ft["categorie"]).alias("categorie"),
            labels(INDEMNISATION, ft["indemnisation"]).alias("indemnisation"),
        ),
        "cd31": deliveries["cd31"].select("record", "person_id", "date_contact"),
    }


def _write_truth(
    directory: Path,
    deliveries: dict[str, pl.DataFrame],
    territory: Territory,
    reference: date,
    period: str,
) -> None:
    (directory / "records").mkdir(parents=True, exist_ok=True)
    geography = truth_geography(territory.codes[: territory.n31].astype(str), territory.epci)
    indicateurs, connus = planted_truth(_views(deliveries, territory), reference, period, geography)
    indicateurs.write_csv(directory / "indicateurs.csv")
    connus.write_csv(directory / "connus.csv")
    for convention, frame in deliveries.items():
        columns = ["record", "person_id"] + (["household_id"] if convention == "caf31" else [])
        frame.select(columns).write_parquet(directory / "records" / f"{convention}.parquet")
    (directory / "README.md").write_text(TRUTH_README, encoding="utf-8")


def _write_meta(directory: Path, summary: SynthSummary, households: int) -> None:
    indicateurs = pl.read_csv(
        directory / "indicateurs.csv", schema_overrides={"code_territoire": pl.String}
    )
    totals = indicateurs.filter(
        (pl.col("niveau") == "departement")
        & (pl.col("tranche_age") == "ensemble")
        & (pl.col("type_menage") == "ensemble")
    )
    meta = {
        "seed": summary.seed,
        "persons": summary.persons,
        "households": households,
        "period": summary.period,
        "reference_date": summary.reference_date.isoformat(),
        "same_spelling": summary.same_spelling,
        "rows": summary.rows,
        "files": {c: p.name for c, p in summary.files.items()},
        "indicators": {
            row["indicateur"]: {"population": row["population"], "non_recours": row["non_recours"]}
            for row in totals.iter_rows(named=True)
        },
    }
    (directory / "meta.json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )


TRUTH_README = """\
# Vérité plantée — NE JAMAIS PUBLIER

Ce dossier est écrit par `recours synth` à côté des livraisons synthétiques de `landing/`.
Il contient des **identifiants de personnes** (identifiants synthétiques, mais qui relient
chaque ligne des fichiers partenaires à une personne) : il ne doit jamais être publié, ni
copié dans `published/`, ni lu par le pipeline. Il sert uniquement à évaluer le pipeline.

Les indicateurs sont calculés sur la population vraie, avec un appariement parfait (le
générateur sait qui est qui), selon les règles exactes de docs/regles.md, sans secret
statistique.

## Fichiers

- `indicateurs.csv` (UTF-8, séparateur `,`) : `indicateur, periode, niveau, code_territoire,
  tranche_age, type_menage, population, non_recours`. Grille complète de « What is
  published » : département (`31`) et EPCI (partie en Haute-Garonne) pour toutes les
  combinaisons de tranches d'âge et de types de ménage de l'indicateur, chacune aussi en
  `ensemble` ; communes en `ensemble` seulement ; lignes à zéro comprises.
- `connus.csv` : `indicateur, periode, niveau, code_territoire, non_recours,
  non_recours_connus` (département et EPCI, `ensemble`) : parmi les non-recourants présumés,
  ceux en contact avec les services sociaux du Département dans les 24 derniers mois.
- `records/<convention>.parquet` : pour chaque enregistrement du fichier livré, dans l'ordre du
  fichier (`record` 1 = première ligne de données ; pour `cd31`, un enregistrement peut
  occuper plusieurs lignes physiques à cause des OBSERVATIONS), l'identifiant vrai de la
  personne (`person_id`) et, pour la CAF, du foyer (`household_id`). Sert à mesurer la
  qualité de l'appariement.
- `meta.json` : graine, nombre de personnes, période, `same_spelling`, lignes par livraison,
  totaux départementaux par indicateur.

## Conventions

- Âge en années révolues à R (dernier jour du mois de la période), calculé sur l'année et le
  mois de naissance : une personne née un 29 février a son anniversaire à la fin février.
- Une date de naissance au jour ou au mois inconnu (`00` à la CARSAT) vaut le 1er du mois ou le
  1er janvier : c'est aussi la vraie date de naissance de la personne dans la population.
- Territoire : commune de résidence donnée par la source qui définit la population ; les
  unités hors Haute-Garonne sont écartées.
"""
