"""Conventions kept end to end, on the real pipeline (ingest, DuckDB linkage, publication):
only authorized pairs are linked, nothing false is published when a delivery is missing, and a
new partner brought as files alone blocks nobody."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from itertools import combinations
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from pipelines.crossing.run import NothingToCrossError
from pipelines.cycle import cross_and_publish
from pipelines.dpo_report import write_dpo_report
from pipelines.ingest.run import ingest_all
from pipelines.report import report_and_exports
from recours.audit_log import read_events
from recours.conventions import crossing_authorized, load_conventions
from recours.home import Home
from synth import synthesize

REPO = Path(__file__).resolve().parent.parent
PERIOD = "2025-06"
ALL = ["rsa", "prime_activite", "aspa", "css_rsa", "css_bas_revenus", "demandeurs_sans_revenu"]


def ingest(home: Home, conventions_dir: Path | None = None) -> list:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECOURS_PSEUDO_KEY", "ab" * 32)
        return ingest_all(home, conventions_dir)


def table(path: Path, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


def refuse(home: Home, convention: str) -> None:
    """A delivery whose checksum sidecar does not match: refused whole, into quarantine."""
    (delivery,) = [p for p in home.landing_for(convention).iterdir() if p.is_file()]
    delivery.with_name(delivery.name + ".sha256").write_text("0" * 64 + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Home:
    home = Home(tmp_path_factory.mktemp("kept"))
    synthesize(home.root, persons=2500, seed=41, period=PERIOD)
    ingest(home)
    cross_and_publish(home)
    return home


def authorized_pairs(conventions_dir: Path | None = None) -> set[frozenset[str]]:
    conventions = load_conventions(conventions_dir)
    return {
        frozenset((a, b))
        for a, b in combinations(sorted(conventions), 2)
        if crossing_authorized(conventions[a], conventions[b])
    }


def test_only_authorized_pairs_share_a_person_id(demo):
    pairs = table(demo.warehouse, "select distinct source, autre_source from liens_paires")
    linked = {frozenset(row) for row in pairs.iter_rows()}
    assert linked  # something was linked
    assert linked <= authorized_pairs()
    assert frozenset(("cpam31", "ftocc")) not in linked
    assert frozenset(("cpam31", "carsatmp")) not in linked
    crossings = table(demo.warehouse, "select croisement, sources from croisements order by 1")
    assert crossings.rows() == [
        ("caf31+carsatmp+cd31", ["caf31", "carsatmp", "cd31"]),
        ("caf31+cd31", ["caf31", "cd31"]),
        ("caf31+cd31+cpam31", ["caf31", "cd31", "cpam31"]),
        ("caf31+cd31+ftocc", ["caf31", "cd31", "ftocc"]),
    ]


def test_two_crossings_ids_cannot_be_joined(demo):
    """The same CAF records in two crossings carry ids that never meet, and no table keeps a
    record key (line number, rid) that would join them through the third source."""
    people = [
        set(table(demo.warehouse, f"select personne_id from {schema}.caf31")["personne_id"])
        for schema in ("croisement_caf31_cd31", "croisement_caf31_cd31_ftocc")
    ]
    households = [
        set(table(demo.warehouse, f"select foyer_id from {schema}.caf31")["foyer_id"])
        for schema in ("croisement_caf31_cd31", "croisement_caf31_cd31_ftocc")
    ]
    assert len(people[0]) > 1000 and len(people[0]) == len(people[1])
    assert not people[0] & people[1]
    assert not households[0] & households[1]
    columns = table(
        demo.warehouse, "select distinct column_name from duckdb_columns() where not internal"
    )["column_name"].to_list()
    assert not {"rid", "ligne_source", "pseudo_nir", "pseudo_traits", "pseudo_foyer"} & set(columns)


def test_quality_publishes_pair_measures_of_authorized_pairs_only(demo):
    measures = table(
        demo.published / "recours.duckdb",
        "select convention, mesure from qualite where mesure like 'liees_%_avec_%'",
    )
    pairs = {frozenset((c, m.split("_avec_")[1])) for c, m in measures.iter_rows()}
    within_crossings = {
        frozenset(pair)
        for sources in (
            ("caf31", "carsatmp", "cd31"),
            ("caf31", "cd31", "cpam31"),
            ("caf31", "cd31", "ftocc"),
        )
        for pair in combinations(sources, 2)
    }
    assert pairs == within_crossings
    assert pairs <= authorized_pairs()


def test_the_journal_keeps_the_pairs_linked_per_crossing(demo):
    (event,) = [e for e in read_events(demo.audit) if e["evenement"] == "croisement_publie"]
    linked = {
        frozenset((p["source"], p["autre_source"]))
        for crossing in event["croisements"]
        for p in crossing["paires_liees"]
    }
    assert linked <= authorized_pairs()
    assert {c["croisement"] for c in event["croisements"]} == {
        "caf31+cd31",
        "caf31+carsatmp+cd31",
        "caf31+cd31+cpam31",
        "caf31+cd31+ftocc",
    }
    assert event["indicateurs_calcules"] == ALL


def test_a_refused_cd31_delivery_publishes_no_connus_figure(tmp_path):
    home = Home(tmp_path / "home")
    synthesize(home.root, persons=1500, seed=42, period=PERIOD)
    refuse(home, "cd31")
    outcomes = ingest(home)
    assert {o.convention: o.status for o in outcomes}["cd31"] == "refusee"
    summary = cross_and_publish(home, PERIOD)
    assert summary.computed == ALL
    assert set(summary.connus_skipped) == set(ALL)
    assert all("cd31" in reason for reason in summary.connus_skipped.values())
    published = home.published / "recours.duckdb"
    assert table(published, "select count(*) as n from connus").item() == 0
    assert table(published, "select count(*) as n from indicateurs").item() > 0
    meta = dict(table(published, "select cle, valeur from metadonnees").iter_rows())
    assert meta["connus_ignore_rsa"] == ("cd31 : aucune livraison acceptée de cd31 pour la période")
    assert "cd31" not in meta["conventions"].split(", ")
    # the analysts' report says why, in each indicator's section
    report, _ = report_and_exports(home.published, PERIOD)
    html = report.read_text(encoding="utf-8")
    assert html.count(
        "pour cette période : non publiés (cd31 : aucune livraison acceptée de cd31 pour la "
        "période)."
    ) == len(ALL)


def test_a_refused_caf_delivery_publishes_no_indicator_that_uses_it(tmp_path):
    """Every indicator of catalogue v1 reads the CAF file: nothing can be published, and the
    error says why for each, with the previous publication left in place."""
    home = Home(tmp_path / "home")
    synthesize(home.root, persons=1500, seed=43, period=PERIOD)
    refuse(home, "caf31")
    ingest(home)
    with pytest.raises(NothingToCrossError) as caught:
        cross_and_publish(home, PERIOD)
    assert caught.value.skipped == {
        name: "aucune livraison acceptée de caf31 pour la période" for name in ALL
    }
    assert not (home.published / "recours.duckdb").exists()


def sixth_partner(tmp_path: Path, *, crossed: bool) -> Path:
    """A copy of the conventions plus msa31, a partner brought as files alone: its convention,
    its file design (the département's USAGERS layout under another name) and, when
    ``crossed``, its warehouse SQL file, with caf31 and cd31 authorizing it both ways."""
    folder = tmp_path / "conventions"
    shutil.copytree(REPO / "conventions", folder)
    (folder / "schemas").mkdir()
    design = (REPO / "schemas" / "cd31_usagers.yaml").read_text(encoding="utf-8")
    design = design.replace("convention: cd31", "convention: msa31").replace(
        "CD31_USAGERS_{date}", "MSA31_USAGERS_{date}"
    )
    (folder / "schemas" / "msa31_usagers.yaml").write_text(design, encoding="utf-8")
    convention = yaml.safe_load((REPO / "conventions" / "cd31.yaml").read_text(encoding="utf-8"))
    convention["id"] = "msa31"
    convention["datasets"][0]["schema"] = "msa31_usagers"
    convention["authorized_crossings"] = (
        [{"convention": c, "motif": "essai"} for c in ("caf31", "cd31")] if crossed else []
    )
    (folder / "msa31.yaml").write_text(yaml.safe_dump(convention), encoding="utf-8")
    if crossed:
        for name in ("caf31", "cd31"):
            path = folder / f"{name}.yaml"
            own = path.read_text(encoding="utf-8")
            path.write_text(
                own.replace(
                    "\nauthorized_crossings:\n",
                    "\nauthorized_crossings:\n  - convention: msa31\n    motif: essai\n",
                    1,
                ),
                encoding="utf-8",
            )
        (folder / "entrepot").mkdir()
        shutil.copy(REPO / "pipelines/crossing/sql/sources/cd31.sql", folder / "entrepot/msa31.sql")
    return folder


MSA_INDICATOR = """
  - id: msa_essai
    label: Essai d'un partenaire ajouté par fichiers seuls
    definition: >-
      Personnes du fichier de la MSA ; non-recours présumé : absentes des foyers CAF.
    unit: personne
    sources: [msa31, caf31]
    age_bands: [18-24]
    household_types: []
    caveats: Essai.
    sql: msa_essai.sql
"""

MSA_SQL = """-- Indicateur msa_essai : essai d'un partenaire ajouté par fichiers seuls.
-- Calcule : les personnes de la MSA ; non-recours présumé quand elles ne sont membres d'aucun
--   foyer CAF.
-- Grain : une ligne par personne de la MSA (unite_id = personne_id).
-- Sources : table msa31 (convention msa31) ; relations partagées membres_caf et
--   personnes_connues.
with
msa as (select personne_id, code_commune from msa31),
caf as (select distinct personne_id from membres_caf),
connues as (select personne_id from personnes_connues)
select
    msa.personne_id as unite_id,
    msa.code_commune,
    '18-24' as tranche_age,
    null as type_menage,
    caf.personne_id is null as non_recours,
    connues.personne_id is not null as connu
from msa
left join caf using (personne_id)
left join connues using (personne_id)
qualify row_number() over (partition by msa.personne_id order by msa.code_commune) = 1
"""


def copy_of(home: Home, tmp_path: Path) -> Home:
    copy = Home(tmp_path / "home")
    shutil.copytree(home.root, copy.root)
    return copy


def test_a_sixth_partner_that_has_not_delivered_blocks_nobody(demo, tmp_path):
    folder = sixth_partner(tmp_path, crossed=False)
    assert "msa31" in load_conventions(folder)
    home = copy_of(demo, tmp_path)
    summary = cross_and_publish(home, None, folder)
    assert summary.period == PERIOD
    assert summary.computed == ALL
    assert summary.skipped == {}
    linked = table(home.warehouse, "select source, autre_source from liens_paires")
    assert "msa31" not in {*linked["source"], *linked["autre_source"]}


def test_a_sixth_partner_delivered_but_unused_is_ingested_and_linked_to_nobody(demo, tmp_path):
    folder = sixth_partner(tmp_path, crossed=False)
    home = copy_of(demo, tmp_path)
    (cd31_file,) = home.landing_for("cd31").glob("CD31_USAGERS_*.csv")
    home.landing_for("msa31").mkdir()
    shutil.copy(cd31_file, home.landing_for("msa31") / cd31_file.name.replace("CD31", "MSA31"))
    outcomes = ingest(home, folder)
    assert [(o.convention, o.status) for o in outcomes if o.convention == "msa31"] == [
        ("msa31", "acceptee")
    ]
    summary = cross_and_publish(home, None, folder)
    assert summary.computed == ALL
    linked = table(home.warehouse, "select source, autre_source from liens_paires")
    assert "msa31" not in {*linked["source"], *linked["autre_source"]}
    quality = table(home.published / "recours.duckdb", "select distinct convention from qualite")
    assert "msa31" not in quality["convention"].to_list()
    # the DPO sees it in the register, and the crossings' evidence raises no alert
    _, facts_path = write_dpo_report(home.root, folder, date(2025, 7, 15))
    facts = json.loads(facts_path.read_text(encoding="utf-8"))
    assert "msa31" in [entry["id"] for entry in facts["conventions"]["registre"]]
    (period,) = facts["publications"]
    evidence = period["croisements"][-1]["liaisons"]
    assert len(evidence["liste"]) == 4
    assert all(c["non_autorisees"] == [] for c in evidence["liste"])
    assert not [a for a in facts["alertes"] if "liés alors que" in a["texte"]]


def test_a_new_partner_is_crossed_by_files_alone(demo, tmp_path):
    """Convention + design + warehouse SQL file, and an indicator that uses it: no Python."""
    folder = sixth_partner(tmp_path, crossed=True)
    indicators = tmp_path / "indicators"
    shutil.copytree(REPO / "indicators", indicators)
    with (indicators / "catalogue.yaml").open("a", encoding="utf-8") as catalogue:
        catalogue.write(MSA_INDICATOR)
    (indicators / "msa_essai.sql").write_text(MSA_SQL, encoding="utf-8")
    home = copy_of(demo, tmp_path)
    (cd31_file,) = home.landing_for("cd31").glob("CD31_USAGERS_*.csv")
    home.landing_for("msa31").mkdir()
    shutil.copy(cd31_file, home.landing_for("msa31") / cd31_file.name.replace("CD31", "MSA31"))
    ingest(home, folder)
    summary = cross_and_publish(home, None, folder, indicators_dir=indicators)
    assert summary.computed == [*ALL, "msa_essai"]
    assert {c["croisement"]: c["indicateurs"] for c in summary.crossings}["caf31+cd31+msa31"] == [
        "msa_essai"
    ]
    pairs = table(
        home.warehouse,
        "select source, autre_source, lien, enregistrements from liens_paires "
        "where croisement = 'caf31+cd31+msa31' and lien = 'nir'",
    )
    by_pair = {(s, o): n for s, o, _, n in pairs.iter_rows()}
    # the MSA file is the département's own file under another name: every valid NIR it holds
    # is in cd31 too
    (msa,) = home.pseudonymized.glob("msa31/*/*/msa31_usagers.parquet")
    with_nir = pl.read_parquet(msa)["pseudo_nir"].drop_nulls().len()
    assert with_nir > 30
    assert by_pair[("msa31", "cd31")] == by_pair[("cd31", "msa31")] == with_nir
    assert by_pair[("msa31", "caf31")] > 0
    rows = table(
        home.published / "recours.duckdb",
        "select population, non_recours, secret from indicateurs "
        "where indicateur = 'msa_essai' and niveau = 'departement' and tranche_age = 'ensemble'",
    )
    assert rows.height == 1 and not rows["secret"][0] and rows["population"][0] > 100


def test_conventions_check_names_an_indicator_whose_sources_may_not_meet(tmp_path):
    """caf31 and ftocc stop authorizing each other (both sides, so each file is valid): the
    check names the indicator that needs them, with the catalogue's file and line."""
    from click.testing import CliRunner

    from app.cli import cli

    folder = tmp_path / "conventions"
    shutil.copytree(REPO / "conventions", folder)
    for name, other in (("caf31", "ftocc"), ("ftocc", "caf31")):
        path = folder / f"{name}.yaml"
        text, count = re.subn(
            rf"  - convention: {other}\n    motif: [^\n]*\n", "", path.read_text(encoding="utf-8")
        )
        assert count == 1
        path.write_text(text, encoding="utf-8")
    catalogue = (REPO / "indicators" / "catalogue.yaml").read_text(encoding="utf-8").splitlines()
    line = catalogue.index("    sources: [ftocc, caf31]") + 1
    result = CliRunner().invoke(cli, ["conventions", "check", str(folder)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"catalogue.yaml, ligne {line} : indicateur demandeurs_sans_revenu : croisement "
        "ftocc × caf31 non autorisé par les deux conventions",
        f"1 problème(s) dans {folder}",
    ]
