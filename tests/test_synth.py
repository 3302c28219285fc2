"""Synthetic deliveries (``recours synth``): file layouts, determinism, planted truth, rules.

The rule tests use tiny hand-made households whose figures can be checked with pencil and
paper; the file tests generate a few thousand persons (a second or two each).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import fastexcel
import numpy as np
import polars as pl
import pytest

from recours.schemas import load_schemas
from synth import SynthSummary, rules, synthesize
from synth import nir as nirs
from synth.dates import age_at, minus_months, reference_date, to_days
from synth.territory import allocate, load_territory
from synth.truth import CATALOGUE, aggregate, indicator_units, truth_geography

PERIOD = "2025-06"
R = date(2025, 6, 30)
SCHEMAS = {schema.convention: schema for schema in load_schemas().values()}
# Column order as written in the partners' technical annexes (schemas/*.yaml).
SPEC_HEADERS = {
    "caf31": "NUMALLOC QUALITE NIR NOMNAIS NOMUSAGE PRENOM DTNAIS SEXE ADRESSE CODEPOSTAL "
    "CODECOMMUNE SITFAM NBENFCHARGE RESSTRIM REVACTTRIM MTAL DROITRSA DROITPPA DROITAAH",
    "cpam31": "nir nom_naissance prenom date_naissance sexe code_commune type_css "
    "date_debut_droit date_fin_droit",
    "carsatmp": "NIR NOM PRENOMS DATE_NAISSANCE SEXE CODE_INSEE_RESIDENCE "
    "PENSION_MENSUELLE_BRUTE ASPA DATE_EFFET_PENSION",
    "ftocc": "IDENTIFIANT_FT NIR NOM PRENOM DATE_NAISSANCE SEXE COMMUNE_INSEE CATEGORIE "
    "INDEMNISATION DATE_INSCRIPTION",
    "cd31": "ID_USAGER NIR NOM PRENOM DATE_NAISSANCE SEXE CODE_COMMUNE ADRESSE TELEPHONE "
    "ACCOMPAGNEMENT APA PCH DATE_DERNIER_CONTACT OBSERVATIONS",
}
FILE_NAMES = {
    "caf31": "CAF31_ALLOCATAIRES_20250630.csv",
    "cpam31": "CPAM31_CSS_20250630.csv",
    "carsatmp": "CARSATMP_RETRAITES_20250630.txt",
    "ftocc": "FTOCC_DEMANDEURS_20250630.xlsx",
    "cd31": "CD31_USAGERS_20250630.csv",
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthSummary]:
    home = tmp_path_factory.mktemp("synth")
    calls: list[tuple[str, int, int]] = []
    summary = synthesize(
        home, persons=5000, seed=0, period=PERIOD, progress=lambda *a: calls.append(a)
    )
    assert {stage for stage, _, _ in calls} >= {"population", "droits", "caf31", "ftocc", "vérité"}
    assert all(0 <= done <= total for _, done, total in calls)
    return home, summary


@pytest.fixture(scope="module")
def same(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("same")
    synthesize(home, persons=3000, seed=3, period=PERIOD, same_spelling=True)
    return home


def delivery(home: Path, convention: str) -> Path:
    return home / "landing" / convention / FILE_NAMES[convention]


def read_text_delivery(home: Path, convention: str) -> pl.DataFrame:
    schema = SCHEMAS[convention]
    codec = {"utf-8-sig": "utf-8-sig", "utf-8": "utf-8"}.get(schema.encoding, schema.encoding)
    text = delivery(home, convention).read_bytes().decode(codec)
    return pl.read_csv(
        io.StringIO(text),
        separator=schema.separator,
        quote_char=schema.quote,
        infer_schema=False,
    )


# -- files --------------------------------------------------------------------------------


def test_files_have_the_exact_names_and_headers(generated: tuple[Path, SynthSummary]) -> None:
    home, summary = generated
    for convention, name in FILE_NAMES.items():
        folder = home / "landing" / convention
        assert sorted(p.name for p in folder.iterdir()) == [name]
        assert summary.files[convention] == folder / name
    for convention in ("caf31", "cpam31", "carsatmp", "cd31"):
        frame = read_text_delivery(home, convention)
        assert frame.columns == SPEC_HEADERS[convention].split()
        assert frame.columns == SCHEMAS[convention].column_names
        assert frame.height == summary.rows[convention]
    workbook = pl.read_excel(delivery(home, "ftocc"), sheet_name="demandeurs")
    assert workbook.columns == SPEC_HEADERS["ftocc"].split()
    assert workbook.height == summary.rows["ftocc"]


def test_caf_is_cp1252_with_crlf_and_decimal_commas(generated: tuple[Path, SynthSummary]) -> None:
    home, _ = generated
    data = delivery(home, "caf31").read_bytes()
    text = data.decode("cp1252")
    assert any(byte >= 0x80 for byte in data)  # accents really are cp1252 bytes...
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # ...not UTF-8
    assert data.count(b"\n") == data.count(b"\r\n") > 1
    frame = read_text_delivery(home, "caf31")
    assert frame["RESSTRIM"].str.contains(r"^\d+,\d{2}$").all()
    assert frame["DTNAIS"].str.contains(r"^\d{2}/\d{2}/\d{4}$").all()
    assert frame["NUMALLOC"].str.contains(r"^\d{7}$").all()
    assert set(frame["QUALITE"]) == {"ALL", "CJT", "ENF", "AUT"}
    assert '""' not in text  # empty fields are empty, not quoted
    per_household = frame.group_by("NUMALLOC").agg(
        (pl.col("QUALITE") == "ALL").sum().alias("all"),
        (pl.col("QUALITE") == "ENF").sum().alias("enf"),
        pl.col("NBENFCHARGE").first().cast(pl.Int64),
    )
    assert (per_household["all"] == 1).all()
    assert (per_household["enf"] > per_household["NBENFCHARGE"]).any()  # older children
    children = frame.filter(pl.col("QUALITE") == "ENF")
    assert children["NIR"].is_null().mean() > 0.5  # NIR empty for most children


def test_cpam_has_a_bom_iso_dates_and_lf(generated: tuple[Path, SynthSummary]) -> None:
    home, _ = generated
    data = delivery(home, "cpam31").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in data
    frame = read_text_delivery(home, "cpam31")
    assert frame["nir"].is_not_null().all()
    assert all(nirs.is_valid(value) for value in frame["nir"])
    for column in ("date_naissance", "date_debut_droit", "date_fin_droit"):
        assert frame[column].str.contains(r"^\d{4}-\d{2}-\d{2}$").all()
    assert set(frame["type_css"]) == {"GRATUITE", "PARTICIPATION"}


def test_carsat_is_latin1_pipe_padded_with_unknown_days(
    generated: tuple[Path, SynthSummary],
) -> None:
    home, _ = generated
    data = delivery(home, "carsatmp").read_bytes()
    text = data.decode("latin-1")
    assert b"\r" not in data and '"' not in text
    lines = text.splitlines()
    assert lines[0] == "|".join(SPEC_HEADERS["carsatmp"].split())
    fields = [line.split("|") for line in lines[1:]]
    assert all(len(f) == 9 for f in fields)
    assert all(f[1].endswith(" ") for f in fields)  # NOM padded by the mainframe
    births = [f[3] for f in fields]
    unknown = [b for b in births if b.endswith("00")]
    assert unknown and len(unknown) < 0.05 * len(births)
    assert all(len(b) == 8 and b.isdigit() for b in births)
    assert all(nirs.is_valid(f[0]) for f in fields)
    assert all("." in f[6] and "," not in f[6] for f in fields)


def test_france_travail_is_a_real_workbook(generated: tuple[Path, SynthSummary]) -> None:
    home, _ = generated
    path = delivery(home, "ftocc")
    assert fastexcel.read_excel(path).sheet_names == ["lisez-moi", "demandeurs"]
    frame = pl.read_excel(path, sheet_name="demandeurs")
    assert frame.schema["DATE_NAISSANCE"] in (pl.Date, pl.Datetime)
    assert frame.schema["DATE_INSCRIPTION"] in (pl.Date, pl.Datetime)
    assert frame.schema["COMMUNE_INSEE"] == pl.String
    assert frame["COMMUNE_INSEE"].str.contains(r"^\d{5}$").all()
    assert frame["IDENTIFIANT_FT"].str.contains(r"^\d{7}[A-Z]$").all()
    assert 0.03 < frame["NIR"].is_null().mean() < 0.2
    assert set(frame["CATEGORIE"]) <= set("ABCDE")


def test_cd31_notes_span_lines_and_hold_what_privacy_checks_must_catch(
    generated: tuple[Path, SynthSummary],
) -> None:
    home, summary = generated
    text = delivery(home, "cd31").read_bytes().decode("utf-8")
    assert "\r" not in text
    records = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert len(records) == summary.rows["cd31"] + 1
    notes = [row[-1] for row in records[1:]]
    assert any("\n" in n for n in notes) and any(";" in n for n in notes)
    assert any('"' in n for n in notes)
    joined = "\n".join(notes)
    assert "@" in joined
    assert any(p in joined for p in ("06 ", "07 ", "+33", "05."))
    assert "NIR" in joined
    frame = read_text_delivery(home, "cd31")
    assert 0.3 < frame["NIR"].is_null().mean() < 0.7
    assert frame["NIR"].drop_nulls().str.contains(" ").any()  # NIRs written with spaces


def test_truth_records_follow_file_order(generated: tuple[Path, SynthSummary]) -> None:
    home, summary = generated
    for convention, rows in summary.rows.items():
        records = pl.read_parquet(home / "truth" / "records" / f"{convention}.parquet")
        assert records["record"].to_list() == list(range(1, rows + 1))
        assert records["person_id"].min() >= 1
        assert records["person_id"].max() <= summary.persons
    caf = pl.read_parquet(home / "truth" / "records" / "caf31.parquet")
    frame = read_text_delivery(home, "caf31")
    pairs = pl.DataFrame({"numalloc": frame["NUMALLOC"], "household": caf["household_id"]})
    assert pairs.unique().height == pairs["numalloc"].n_unique()  # one NUMALLOC per household
    meta = json.loads((home / "truth" / "meta.json").read_text(encoding="utf-8"))
    assert meta["persons"] == 5000 and meta["rows"] == summary.rows
    assert "publi" in (home / "truth" / "README.md").read_text(encoding="utf-8")


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    def digest(home: Path) -> dict[str, str]:
        return {
            str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(home.rglob("*"))
            if p.is_file()
        }

    synthesize(tmp_path / "a", persons=1500, seed=7, period=PERIOD)
    synthesize(tmp_path / "b", persons=1500, seed=7, period=PERIOD)
    synthesize(tmp_path / "c", persons=1500, seed=8, period=PERIOD)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_default_period_is_last_month(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="période invalide"):
        synthesize(tmp_path, persons=10, period="2025-13")
    summary = synthesize(tmp_path, persons=200)
    today = date.today()
    expected = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    assert summary.period == f"{expected[0]:04d}-{expected[1]:02d}"


def test_same_spelling_spells_every_identity_identically(same: Path) -> None:
    truth = same / "truth" / "records"
    identities = []
    columns = {
        "caf31": ("NIR", "NOMNAIS", "PRENOM", "DTNAIS", "%d/%m/%Y"),
        "cpam31": ("nir", "nom_naissance", "prenom", "date_naissance", "%Y-%m-%d"),
        "cd31": ("NIR", "NOM", "PRENOM", "DATE_NAISSANCE", "%d/%m/%Y"),
    }
    for convention, (nir, name, given, born, pattern) in columns.items():
        frame = read_text_delivery(same, convention)
        ids = pl.read_parquet(truth / f"{convention}.parquet")["person_id"]
        identities.append(
            pl.DataFrame(
                {
                    "person_id": ids,
                    "nir": frame[nir],
                    "name": frame[name],
                    "given": frame[given],
                    "born": frame[born].str.to_date(pattern),
                }
            )
        )
    carsat = read_text_delivery(same, "carsatmp").with_columns(pl.all().str.strip_chars())
    identities.append(
        pl.DataFrame(
            {
                "person_id": pl.read_parquet(truth / "carsatmp.parquet")["person_id"],
                "nir": carsat["NIR"],
                "name": carsat["NOM"],
                "given": carsat["PRENOMS"].str.split(" ").list.first(),
                "born": carsat["DATE_NAISSANCE"]
                .str.replace(r"0000$", "0101")
                .str.replace(r"00$", "01")
                .str.to_date("%Y%m%d"),
            }
        )
    )
    ft = pl.read_excel(same / "landing" / "ftocc" / FILE_NAMES["ftocc"], sheet_name="demandeurs")
    identities.append(
        pl.DataFrame(
            {
                "person_id": pl.read_parquet(truth / "ftocc.parquet")["person_id"],
                "nir": ft["NIR"],
                "name": ft["NOM"],
                "given": ft["PRENOM"],
                "born": ft["DATE_NAISSANCE"].cast(pl.Date),
            }
        )
    )
    every = pl.concat(identities)
    assert every["nir"].is_not_null().all()
    assert all(nirs.is_valid(value) for value in every["nir"])
    distinct = every.unique().group_by("person_id").len()
    assert (distinct["len"] == 1).all()  # one spelling per person across all sources
    assert (every.group_by("nir").agg(pl.col("person_id").n_unique())["person_id"] == 1).all()


# -- planted truth: grid and consistency --------------------------------------------------


def test_truth_grid_is_complete(generated: tuple[Path, SynthSummary]) -> None:
    home, _ = generated
    table = pl.read_csv(
        home / "truth" / "indicateurs.csv", schema_overrides={"code_territoire": pl.String}
    )
    assert table.columns == [
        "indicateur",
        "periode",
        "niveau",
        "code_territoire",
        "tranche_age",
        "type_menage",
        "population",
        "non_recours",
    ]
    territory = load_territory()
    epcis = len(territory.epci_codes)
    assert epcis == 18
    for indicator in CATALOGUE:
        rows = table.filter(pl.col("indicateur") == indicator.id)
        cells = (len(indicator.bands) + 1) * (len(indicator.types) + 1)
        zones = 150  # the shipped observation zones, ensemble only like communes
        assert rows.height == cells * (1 + epcis) + zones + territory.n31
        assert rows.filter(pl.col("niveau") == "zone").height == zones
        assert (
            rows.select("niveau", "code_territoire", "tranche_age", "type_menage").is_unique().all()
        )
        assert (rows["periode"] == PERIOD).all()
        assert (rows["non_recours"] <= rows["population"]).all()
        assert (rows["population"] == 0).any()  # zero rows are part of the grid
        assert rows.filter(pl.col("niveau") == "departement")["population"].max() > 0


def test_truth_totals_add_up(generated: tuple[Path, SynthSummary]) -> None:
    home, _ = generated
    table = pl.read_csv(
        home / "truth" / "indicateurs.csv", schema_overrides={"code_territoire": pl.String}
    )
    for indicator in CATALOGUE:
        rows = table.filter(pl.col("indicateur") == indicator.id)
        ensemble = rows.filter(
            (pl.col("tranche_age") == "ensemble") & (pl.col("type_menage") == "ensemble")
        )
        by_level = ensemble.group_by("niveau").agg(pl.col("population", "non_recours").sum())
        totals = {
            r["niveau"]: (r["population"], r["non_recours"]) for r in by_level.iter_rows(named=True)
        }
        assert totals["departement"] == totals["epci"] == totals["zone"] == totals["commune"]
        upper = rows.filter(pl.col("niveau").is_in(["departement", "epci"]))
        sums = [("type_menage", "tranche_age")]
        if indicator.types:
            sums.append(("tranche_age", "type_menage"))
        else:
            assert (upper["type_menage"] == "ensemble").all()
        for fixed, summed in sums:
            parts = (
                upper.filter(pl.col(summed) != "ensemble")
                .group_by("niveau", "code_territoire", fixed)
                .agg(pl.col("population", "non_recours").sum())
            )
            whole = upper.filter(pl.col(summed) == "ensemble").select(
                "niveau", "code_territoire", fixed, "population", "non_recours"
            )
            joined = whole.join(parts, on=["niveau", "code_territoire", fixed], how="left")
            joined = joined.fill_null(0)
            assert (joined["population"] == joined["population_right"]).all()
            assert (joined["non_recours"] == joined["non_recours_right"]).all()
    connus = pl.read_csv(
        home / "truth" / "connus.csv", schema_overrides={"code_territoire": pl.String}
    )
    assert connus.columns == [
        "indicateur",
        "periode",
        "niveau",
        "code_territoire",
        "non_recours",
        "non_recours_connus",
    ]
    assert (connus["non_recours_connus"] <= connus["non_recours"]).all()
    assert set(connus["niveau"]) == {"departement", "epci"}
    check = connus.join(
        table.filter((pl.col("tranche_age") == "ensemble") & (pl.col("type_menage") == "ensemble")),
        on=["indicateur", "niveau", "code_territoire"],
    )
    assert (check["non_recours"] == check["non_recours_right"]).all()


def test_every_indicator_has_a_population_and_plausible_rates(
    generated: tuple[Path, SynthSummary],
) -> None:
    home, _ = generated
    meta = json.loads((home / "truth" / "meta.json").read_text(encoding="utf-8"))
    for indicator, figures in meta["indicators"].items():
        assert figures["population"] >= 30, indicator
        assert 0.1 < figures["non_recours"] / figures["population"] < 0.75, indicator


# -- rules, by hand -----------------------------------------------------------------------


def test_scale_coefficients() -> None:
    adults = np.array([1, 1, 1, 1, 2, 2, 2, 2, 1, 2])
    children = np.array([0, 1, 2, 3, 0, 1, 2, 3, 4, 4])
    assert rules.scale_tenths(adults, children).tolist() == [10, 15, 18, 22, 15, 18, 21, 25, 26, 29]
    assert rules.household_type(adults[:8], children[:8]).tolist() == [0, 1, 1, 1, 2, 3, 3, 3]


def test_forfait_logement() -> None:
    assert rules.forfait_logement(Decimal("646.52"), 1) == Decimal("77.5824")
    assert rules.forfait_logement(Decimal("646.52"), 2) == Decimal("155.1648")  # 16 % × 1.5
    assert rules.forfait_logement(Decimal("646.52"), 3) == Decimal("192.01644")  # 16.5 % × 1.8
    assert rules.forfait_logement(Decimal("646.52"), 5) == Decimal("192.01644")


def test_rsa_threshold_is_strict() -> None:
    # Single person, no housing aid: RESSTRIM / 3 < 646.52, i.e. RESSTRIM < 1 939.56.
    # With housing aid: < 3 × (646.52 − 77.5824) = 1 706.8128.
    resstrim = np.array([193955, 193956, 170681, 170682])
    mtal = np.array([0, 0, 1, 1])
    below = rules.rsa_resources_below(resstrim, np.full(4, 10), np.ones(4), mtal)
    assert below.tolist() == [True, False, True, False]
    # Couple + 2 children (c = 2.1, 4 persons, FL 16.5 % × 1.8): 646.52 × 2.1 − 192.01644
    # = 1 165.67556 a month, 3 497.02668 a quarter.
    quarter = np.array([349702, 349703])
    couple = rules.rsa_resources_below(quarter, np.full(2, 21), np.full(2, 4), np.ones(2))
    assert couple.tolist() == [True, False]


def test_prime_activite_formula() -> None:
    # Single, housing aid, earns 1 000 € a month (3 000 € a quarter, no other resource):
    # 633.21 + 0.5985 × 1 000 − max(1 000 + 75.9852, 633.21) = 155.7248.
    assert rules.prime_activite_amount(300000, 300000, 10, 1, 1) == Decimal("155.7248")
    # PA exactly 15 € is enough (≥); one more cent of resources is not.
    assert rules.prime_activite_amount(168030, 8960, 10, 1, 1) == Decimal(15)
    eligible = rules.prime_activite_at_least_minimum(
        np.array([168030, 168031]), np.array([8960, 8960]), np.full(2, 10), np.ones(2), np.ones(2)
    )
    assert eligible.tolist() == [True, False]
    # No resources at all: the lump sum term wins the max: PA = 0.5985 × earnings.
    assert rules.prime_activite_amount(30000, 30000, 10, 1, 1) == Decimal("59.85")


def test_aspa_couple_rule() -> None:
    own = np.array([103427, 103428, 80000, 80000, 160000, 160000])
    couple = np.array([False, False, True, True, True, False])
    total = np.array([103427, 103428, 160572, 160573, 160000, 160000])
    assert rules.aspa_under_ceiling(own, couple, total).tolist() == [
        True,
        False,
        True,
        False,
        True,  # spouse not at the CARSAT counts 0: 1 600 < 1 605.73
        False,  # same pension, no two-adult CAF household: 1 600 ≥ 1 034.28
    ]


def test_css_ceilings() -> None:
    persons = np.arange(1, 8)
    assert rules.css_ceiling(persons).tolist() == [13957, 20936, 25123, 29311, 34894, 40477, 46060]
    # 4 × 3 489.25 = 13 957: on the ceiling is in (≤).
    low = rules.css_low_income(np.array([348925, 348926]), np.ones(2))
    assert low.tolist() == [True, False]


def test_css_open_registration_and_contact_dates() -> None:
    r = to_days(R)
    assert rules.css_open_at(
        np.array([r, r - 365, r - 365, r + 1]), np.array([r + 300, r, r - 1, r + 300]), R
    ).tolist() == [True, True, False, False]
    assert minus_months(R, 3) == date(2025, 3, 31)
    assert minus_months(R, 24) == date(2023, 6, 30)
    assert minus_months(date(2024, 5, 31), 3) == date(2024, 2, 29)
    registered = np.array([to_days(date(2025, 3, 31)), to_days(date(2025, 4, 1))])
    assert rules.registered_three_months(registered, R).tolist() == [True, False]
    contact = np.array([to_days(date(2023, 6, 30)), to_days(date(2023, 7, 1))])
    assert rules.contact_within_24_months(contact, R).tolist() == [False, True]


def test_age_counts_completed_years_from_the_month_of_birth() -> None:
    february = reference_date("2025-02")
    assert february == date(2025, 2, 28)
    # Born 29 February 2000: 25 at the end of February 2025 (birthday at the end of February).
    assert age_at(np.array([2000]), np.array([2]), february).tolist() == [25]
    assert age_at(np.array([2000, 2000, 1950]), np.array([6, 7, 0]), R).tolist() == [25, 24, 75]
    assert rules.age_band(np.array([0, 17, 18, 24, 25, 64, 65, 74, 75, 99])).tolist() == [
        0,
        0,
        1,
        1,
        2,
        4,
        5,
        5,
        6,
        6,
    ]


def test_nir_keys_and_corsica() -> None:
    text = nirs.to_text(
        np.array([1, 2]),
        np.array([85, 70]),
        np.array([3, 12]),
        np.array([31, nirs.CORSE_SUD]),
        np.array([555, 4]),
        np.array([42, 7]),
    ).to_list()
    assert text[0] == "185033155504232"  # 97 − 1850331555042 mod 97 = 32
    assert text[1].startswith("270122A004007")
    assert int(text[1][13:]) == 97 - int("2701219004007") % 97
    assert all(nirs.is_valid(t) for t in text)
    assert nirs.spaced(text[0]) == "1 85 03 31 555 042 32"
    assert not nirs.is_valid(nirs.with_typo(text[0], 3, 5))


def test_largest_remainder_is_exact() -> None:
    assert allocate(np.array([1, 1, 1]), 2).tolist() == [1, 1, 0]
    territory = load_territory()
    for total in (1, 3000, 1_471_468):
        counts = allocate(territory.population, total)
        assert counts.sum() == total
    assert (allocate(territory.population, 1_471_468) == territory.population).all()


# -- planted truth on hand-made households ------------------------------------------------


def caf_line(person: int, household: int, qualite: str, year: int, **household_fields) -> dict:
    fields = {
        "commune": "31555",
        "nbenfcharge": 0,
        "resstrim": 0,
        "revacttrim": 0,
        "mtal": 0,
        "droitrsa": "N",
        "droitppa": "N",
        "droitaah": "N",
    }
    fields.update(household_fields)
    return {
        "person_id": person,
        "household_id": household,
        "qualite": qualite,
        "birth_year": year,
        "birth_month": 1,
        **fields,
    }


def views(caf: list[dict], cpam=(), carsat=(), ft=(), cd31=()) -> dict[str, pl.DataFrame]:  # noqa: ANN001
    def frame(rows, schema):  # noqa: ANN001, ANN202
        return pl.DataFrame(list(rows), schema=schema, orient="row")

    return {
        "caf31": pl.DataFrame(caf),
        "cpam31": frame(
            cpam, {"person_id": pl.Int64, "date_debut": pl.Int64, "date_fin": pl.Int64}
        ),
        "carsatmp": frame(
            carsat,
            {
                "person_id": pl.Int64,
                "birth_year": pl.Int64,
                "birth_month": pl.Int64,
                "commune": pl.String,
                "pension": pl.Int64,
                "aspa": pl.String,
            },
        ),
        "ftocc": frame(
            ft,
            {
                "person_id": pl.Int64,
                "birth_year": pl.Int64,
                "birth_month": pl.Int64,
                "commune": pl.String,
                "categorie": pl.String,
                "indemnisation": pl.String,
                "date_inscription": pl.Int64,
            },
        ),
        "cd31": frame(cd31, {"person_id": pl.Int64, "date_contact": pl.Int64}),
    }


def test_truth_units_on_hand_made_households() -> None:
    r = to_days(R)
    single_parent = dict(nbenfcharge=2, resstrim=150000, mtal=30000, droitrsa="O")
    couple = dict(resstrim=420000, revacttrim=420000, mtal=10000, droitppa="N")
    caf = [
        # Household 1: single mother (born 1990), two children, RSA paid; 1 500 € a quarter
        # < 3 × (646.52 × 1.8 − 192.01644): in the RSA target, and all three in css_rsa.
        caf_line(1, 1, "ALL", 1990, **single_parent),
        caf_line(2, 1, "ENF", 2015, **single_parent),
        caf_line(3, 1, "ENF", 2018, **single_parent),
        # Household 2: couple, 1 400 € a month of earnings, housing aid, no PPA:
        # PA = 633.21 × 1.5 + 0.5985 × 1 400 − max(1 400 + 151.9704, 949.815) = 235.7446.
        caf_line(4, 2, "ALL", 1960, **couple),
        caf_line(5, 2, "CJT", 1958, **couple),
        # Household 3: a retiree alone in the CAF file (housing aid).
        caf_line(6, 3, "ALL", 1950, resstrim=300000, mtal=5000),
    ]
    cpam = [(1, r - 100, r + 265), (2, r - 400, r - 1)]  # person 2's right ended before R
    carsat = [
        (5, 1958, 1, "31555", 100000, "0"),  # spouse 4 not at CARSAT: 1 000 < 1 605.73
        (6, 1950, 1, "81004", 90000, "0"),  # lives outside 31 now: left out
        (7, 1940, 1, "31069", 103428, "0"),  # alone, on the ceiling: out
        (8, 1941, 1, "31069", 103427, "1"),  # alone, under the ceiling, ASPA paid
    ]
    three_months = to_days(minus_months(R, 3))
    ft = [
        (1, 1990, 1, "31555", "A", "AUCUNE", three_months),  # adult of an RSA household
        (4, 1960, 1, "31555", "B", "AUCUNE", three_months),  # no RSA/PPA: presumed
        (9, 1980, 1, "31555", "A", "AUCUNE", three_months + 1),  # registered too recently
        (10, 2002, 1, "31555", "A", "AUCUNE", three_months),  # under 25
    ]
    cd31 = [(3, to_days(date(2023, 7, 1))), (8, to_days(date(2023, 6, 30)))]
    units = indicator_units(views(caf, cpam, carsat, ft, cd31), R)
    rsa = units["rsa"]
    assert rsa.height == 1 and rsa.row(0) == (
        "31555",
        "35-49",
        "famille_monoparentale",
        False,
        True,
    )
    pa = units["prime_activite"]
    assert pa.rows() == [("31555", "65-74", "couple_sans_enfant", True, False)]
    css = units["css_rsa"]
    assert css.height == 3
    assert sorted(css["non_recours"].to_list()) == [False, True, True]  # 1 open; 2 ended; 3 none
    assert css["connu"].all()  # child 3 is followed: the whole household is reachable
    aspa = units["aspa"].sort("tranche_age", "commune")
    assert aspa.rows() == [
        ("31555", "65-74", "ensemble", True, False),  # person 5, couple rule
        ("31069", "75+", "ensemble", False, False),  # person 8; contact on R − 24 months
        ("81004", "75+", "ensemble", True, False),  # person 6 (outside 31: left out later)
    ]
    territory = load_territory()
    geography = truth_geography(territory.codes[: territory.n31].astype(str), territory.epci)
    published, known = aggregate(CATALOGUE[2], aspa, PERIOD, geography)
    department = published.filter(pl.col("niveau") == "departement")
    assert department.select("tranche_age", "population", "non_recours").rows() == [
        ("ensemble", 2, 1),
        ("65-74", 1, 1),
        ("75+", 1, 0),
    ]
    assert known.filter(pl.col("niveau") == "departement")["non_recours_connus"].to_list() == [0]
    seekers = units["demandeurs_sans_revenu"].sort("tranche_age")
    assert seekers.rows() == [
        ("31555", "35-49", "ensemble", False, True),  # person 1: RSA; reached via her child
        ("31555", "65-74", "ensemble", True, False),  # person 4
    ]
    low = units["css_bas_revenus"].sort("tranche_age")  # RSA = N, 4 × RESSTRIM ≤ ceiling
    assert low.rows() == [
        ("31555", "65-74", "couple_sans_enfant", True, False),  # 16 800 ≤ 20 936
        ("31555", "65-74", "couple_sans_enfant", True, False),
        ("31555", "75+", "personne_seule", True, False),  # 12 000 ≤ 13 957
    ]


def test_css_low_income_target_by_hand() -> None:
    caf = [
        caf_line(1, 1, "ALL", 1950, resstrim=348925),
        caf_line(2, 2, "ALL", 1950, resstrim=348926),
    ]
    units = indicator_units(views(caf), R)
    assert units["css_bas_revenus"].rows() == [("31555", "75+", "personne_seule", True, False)]


def test_truth_matches_the_files_recomputed_with_fractions(
    generated: tuple[Path, SynthSummary],
) -> None:
    """Département totals recomputed from the delivered text alone (plus the true ids), in
    exact rational arithmetic, written straight from docs/regles.md."""
    home, _ = generated
    territory = load_territory()
    in31 = set(territory.codes[: territory.n31].tolist())

    def rows(convention: str) -> list[dict]:
        frame = read_text_delivery(home, convention).with_columns(pl.all().str.strip_chars())
        ids = pl.read_parquet(home / "truth" / "records" / f"{convention}.parquet")["person_id"]
        return [dict(r, pid=p) for r, p in zip(frame.iter_rows(named=True), ids, strict=True)]

    def money(text: str | None) -> Fraction:
        return Fraction((text or "0").replace(",", "."))

    def age(year: int, month: int) -> int:
        return R.year - year - ((month or 1) > R.month)

    def scale(adults: int, k: int) -> Fraction:
        first = (Fraction(1, 2) if adults == 1 else Fraction(3, 10)) if k else 0
        second = Fraction(3, 10) if k >= 2 else 0
        return 1 + Fraction(adults - 1, 2) + first + second + Fraction(2, 5) * max(k - 2, 0)

    def fl(base: Fraction, persons: int) -> Fraction:
        return base * {1: Fraction(12, 100), 2: Fraction(24, 100)}.get(persons, Fraction(297, 1000))

    def ceiling(persons: int) -> int:
        return [0, 13957, 20936, 25123, 29311][min(persons, 4)] + 5583 * max(persons - 4, 0)

    covered = {
        r["pid"] for r in rows("cpam31") if r["date_debut_droit"] <= str(R) <= r["date_fin_droit"]
    }
    found = {key: [0, 0] for key in ("rsa", "prime_activite", "css_rsa", "css_bas_revenus")}
    found |= {"aspa": [0, 0], "demandeurs_sans_revenu": [0, 0]}
    households: dict[str, list[dict]] = {}
    for r in rows("caf31"):
        households.setdefault(r["NUMALLOC"], []).append(r)
    paid_adults, spouse = set(), {}
    rsa_base, pa_base = Fraction("646.52"), Fraction("633.21")
    for members in households.values():
        adults = [m for m in members if m["QUALITE"] in ("ALL", "CJT")]
        alloc = next(m for m in members if m["QUALITE"] == "ALL")
        if "O" in (alloc["DROITRSA"], alloc["DROITPPA"]):
            paid_adults |= {m["pid"] for m in adults}
        if len(adults) == 2:
            spouse[adults[0]["pid"]], spouse[adults[1]["pid"]] = adults[1]["pid"], adults[0]["pid"]
        if alloc["CODECOMMUNE"] not in in31:
            continue
        k = int(alloc["NBENFCHARGE"])
        persons, c = len(adults) + k, scale(len(adults), k)
        res, rev, mtal = money(alloc["RESSTRIM"]), money(alloc["REVACTTRIM"]), money(alloc["MTAL"])
        _, month, year = alloc["DTNAIS"].split("/")
        a = age(int(year), int(month))
        housing = fl(rsa_base, persons) if mtal > 0 else 0
        if (a >= 25 or k) and alloc["DROITAAH"] == "N" and res / 3 < rsa_base * c - housing:
            found["rsa"][0] += 1
            found["rsa"][1] += alloc["DROITRSA"] == "N"
        if mtal > 0 and rev > 0 and a >= 18:
            lump = pa_base * c
            pa = lump + Fraction("0.5985") * rev / 3 - max(res / 3 + fl(pa_base, persons), lump)
            if pa >= 15:
                found["prime_activite"][0] += 1
                found["prime_activite"][1] += alloc["DROITPPA"] == "N"
        key = "css_rsa" if alloc["DROITRSA"] == "O" else None
        key = key or ("css_bas_revenus" if 4 * res <= ceiling(persons) else None)
        for m in members if key else []:
            found[key][0] += 1
            found[key][1] += m["pid"] not in covered
    retirees = rows("carsatmp")
    pension = {r["pid"]: money(r["PENSION_MENSUELLE_BRUTE"]) for r in retirees}
    for r in retirees:
        born = r["DATE_NAISSANCE"]
        if r["CODE_INSEE_RESIDENCE"] not in in31 or age(int(born[:4]), int(born[4:6])) < 65:
            continue
        own = pension[r["pid"]]
        if r["pid"] in spouse:
            under = own + pension.get(spouse[r["pid"]], 0) < Fraction("1605.73")
        else:
            under = own < Fraction("1034.28")
        if under:
            found["aspa"][0] += 1
            found["aspa"][1] += r["ASPA"] == "0"
    ft = pl.read_excel(delivery(home, "ftocc"), sheet_name="demandeurs")
    ft_ids = pl.read_parquet(home / "truth" / "records" / "ftocc.parquet")["person_id"]
    for r, pid in zip(ft.iter_rows(named=True), ft_ids, strict=True):
        born, registered = r["DATE_NAISSANCE"], r["DATE_INSCRIPTION"]
        if (
            r["COMMUNE_INSEE"] in in31
            and r["CATEGORIE"] in ("A", "B")
            and r["INDEMNISATION"] == "AUCUNE"
            and registered.strftime("%Y-%m-%d") <= str(minus_months(R, 3))
            and age(born.year, born.month) >= 25
        ):
            found["demandeurs_sans_revenu"][0] += 1
            found["demandeurs_sans_revenu"][1] += pid not in paid_adults
    meta = json.loads((home / "truth" / "meta.json").read_text(encoding="utf-8"))
    for indicator, (population, non_recours) in found.items():
        assert meta["indicators"][indicator] == {
            "population": population,
            "non_recours": non_recours,
        }, indicator
