"""Validation step: every rule on hand-made lines, severities, NIR keys, and no value in results.

Great Expectations takes seconds to import and a fraction of a second per run, so the rule tests
share one validation of one frame (module fixture) in which each rule owns a block of lines.
"""

from __future__ import annotations

import json
import logging
import random
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from stdnum.fr import nir as stdnum_nir

from pipelines.ingest import validate as validate_module
from pipelines.ingest.validate import (
    SEVERITIES,
    RuleFailure,
    ValidationResult,
    ValidationRunError,
    build_suite,
    date_max,
    describe,
    nir_key_expressions,
    prepare_frame,
    validate,
)
from recours.schemas import Column, Schema, load_schemas

COMMUNES_CSV = Path(__file__).resolve().parent.parent / "recours" / "data" / "communes_31.csv"
COMMUNES_31 = frozenset(
    pl.read_csv(COMMUNES_CSV, schema_overrides={"code_insee": pl.String})["code_insee"]
)
EXTRACTION = date(2025, 6, 30)


def with_key(body: str) -> str:
    """A NIR with its right key, computed here with plain Python integers."""
    number = int(body.replace("2A", "19").replace("2B", "18"))
    return f"{body}{97 - number % 97:02d}"


def wrong_key(body: str) -> str:
    right = int(with_key(body)[13:])
    return f"{body}{right % 97 + 1:02d}"


SCHEMA = Schema.model_validate(
    {
        "dataset": "ESSAI",
        "convention": "essai",
        "file_name": "ESSAI_{date}.csv",
        "format": "csv",
        "decimal": ",",
        "columns": [
            {"name": "ID", "type": "string", "required": True, "pattern": r"^\d{3}$"},
            {"name": "CAT", "type": "string", "values": ["A", "B"]},
            {"name": "N", "type": "integer", "min": 0},
            {"name": "M", "type": "decimal", "min": 0},
            {"name": "D", "type": "date", "date_format": "JJ/MM/AAAA"},
            {"name": "DU", "type": "date", "date_format": "AAAAMMJJ", "unknown_day_month": True},
            {"name": "DI", "type": "date", "date_format": "AAAA-MM-JJ"},
            {"name": "NIR", "type": "nir"},
            {"name": "COM", "type": "commune", "required": True},
            {"name": "NOTE", "type": "text"},
        ],
    }
)

VALID = {
    "ID": "123",
    "CAT": "A",
    "N": "2",
    "M": "12,50",
    "D": "15/03/1985",
    "DU": "19850315",
    "DI": "1985-03-15",
    "NIR": with_key("1850331555042"),
    "COM": "31555",
    "NOTE": "texte libre",
}

# line -> the cells that differ from VALID; each rule owns a block of lines.
CASES: dict[int, dict[str, str | None]] = {
    # obligatoire
    10: {"ID": ""},
    11: {"ID": None},
    12: {"COM": ""},
    13: {c: "" for c in ("CAT", "N", "M", "D", "DU", "DI", "NIR", "NOTE")},  # optional: fine
    14: {"CAT": None, "NIR": "   "},  # a NIR of spaces is an empty NIR
    # format (the whole value must match)
    20: {"ID": "12"},
    21: {"ID": "1234"},
    22: {"ID": "123\n"},
    23: {"ID": "12a"},
    # valeurs_autorisees
    30: {"CAT": "C"},
    31: {"CAT": "a"},
    32: {"CAT": "B"},
    # entier
    40: {"N": "2.5"},
    41: {"N": "deux"},
    42: {"N": "+3"},
    # decimal (the schema's mark is a comma)
    50: {"M": "12.50"},
    51: {"M": "1 000,00"},
    52: {"M": "12,"},
    53: {"M": "7"},
    # minimum
    60: {"N": "-1"},
    61: {"M": "-0,01"},
    62: {"N": "0", "M": "0,00"},
    # date_format
    70: {"D": "1985-03-15"},
    71: {"D": "15/3/1985"},
    72: {"DU": "1985-03-15"},
    73: {"DI": "15/03/1985"},
    74: {"DI": "19850315"},
    # date_possible
    80: {"D": "31/02/2020"},
    81: {"D": "15/13/1985"},
    82: {"D": "00/01/1950"},  # no unknown_day_month for D
    83: {"D": "29/02/2023"},
    84: {"D": "29/02/1900"},
    85: {"D": "29/02/2000"},
    86: {"D": "29/02/2024"},
    87: {"D": "31/12/1889"},
    88: {"D": "01/01/1890"},
    89: {"D": "30/06/2027"},  # extraction + 2 years
    90: {"D": "01/07/2027"},
    91: {"DU": "19500000"},  # unknown day and month
    92: {"DU": "19500015"},
    93: {"DU": "19501300"},
    94: {"DU": "19500231"},
    95: {"DI": "2020-13-01"},
    96: {"DI": "0000-01-01"},
    # nir_format
    100: {"NIR": with_key("1850331555042")[:14]},
    101: {"NIR": with_key("1851331555042")},  # month 13
    102: {"NIR": with_key("5850331555042")},  # sex digit 5
    103: {"NIR": "185032C555042" + "17"},  # department 2C
    104: {"NIR": "18503315550X217"},  # a letter outside the department
    105: {"NIR": with_key("1854331555042")},  # month 43
    # nir_cle
    110: {"NIR": wrong_key("1850331555042")},
    111: {"NIR": with_key("185032A555042")},
    112: {"NIR": wrong_key("285032B123042")},
    113: {"NIR": with_key("7850399555042")},  # NIA
    114: {"NIR": wrong_key("8850399555042")},
    115: {"NIR": " ".join(["1", "85", "03", "31", "555", "042", with_key("1850331555042")[13:]])},
    116: {"NIR": with_key("185032A555042").replace("2A", "2a")},
    117: {"NIR": with_key("1854299555042")},  # month 42
    118: {"NIR": with_key("1855099555042")},  # month 50
    # communes
    120: {"COM": "3155"},
    121: {"COM": "ABCDE"},
    122: {"COM": "2C001"},
    123: {"COM": "31999"},
    124: {"COM": "31000"},
    125: {"COM": "75056"},
    126: {"COM": "2A004"},
    127: {"COM": "09122"},
}

EXPECTED: dict[tuple[str, str], tuple[int, ...]] = {
    ("obligatoire", "ID"): (10, 11),
    ("format", "ID"): (20, 21, 22, 23),
    ("valeurs_autorisees", "CAT"): (30, 31),
    ("entier", "N"): (40, 41),
    ("minimum", "N"): (60,),
    ("decimal", "M"): (50, 51, 52),
    ("minimum", "M"): (61,),
    ("date_format", "D"): (70, 71),
    ("date_possible", "D"): (80, 81, 82, 83, 84, 87, 90),
    ("date_format", "DU"): (72,),
    ("date_possible", "DU"): (93, 94),
    ("date_format", "DI"): (73, 74),
    ("date_possible", "DI"): (95, 96),
    ("nir_format", "NIR"): (100, 101, 102, 103, 104, 105),
    ("nir_cle", "NIR"): (110, 112, 114),
    ("obligatoire", "COM"): (12,),
    ("commune_format", "COM"): (120, 121, 122),
    ("commune_inconnue", "COM"): (123, 124),
    ("hors_departement", "COM"): (125, 126, 127),
}
SIGNALER = {"nir_format", "nir_cle", "hors_departement"}


def frame(
    schema: Schema, rows: dict[int, dict[str, str | None]], base: dict[str, str]
) -> pl.DataFrame:
    """The reader's output: every schema column as String, plus `_ligne`."""
    records = [{**base, **cells} for cells in rows.values()]
    data = {c: pl.Series(c, [r[c] for r in records], dtype=pl.String) for c in schema.column_names}
    return pl.DataFrame({"_ligne": pl.Series(list(rows), dtype=pl.Int64), **data})


RAW = frame(SCHEMA, {2: {}, **CASES}, VALID)


@pytest.fixture(scope="module")
def captured() -> dict[str, Any]:
    """One validation of the rule frame, keeping GE's raw results and logs for inspection."""
    store: dict[str, Any] = {}
    original = validate_module._collect

    def spy(results: list, *args: Any) -> ValidationResult:
        store["ge_results"] = results
        return original(results, *args)

    handler = _ListHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    previous, root.level = root.level, logging.DEBUG
    validate_module._collect = spy
    try:
        store["result"] = validate(RAW, SCHEMA, COMMUNES_31, EXTRACTION)
    finally:
        validate_module._collect = original
        root.removeHandler(handler)
        root.setLevel(previous)
    store["logs"] = handler.messages
    return store


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def result(captured: dict[str, Any]) -> ValidationResult:
    return captured["result"]


# --------------------------------------------------------------------------------- the rules


def test_every_failure_exactly(result: ValidationResult) -> None:
    assert {(f.rule, f.column): f.lines for f in result.failures} == EXPECTED
    assert result.rows == len(CASES) + 1


@pytest.mark.parametrize("key", list(EXPECTED), ids=lambda k: f"{k[0]}-{k[1]}")
def test_each_rule_lines_and_count(result: ValidationResult, key: tuple[str, str]) -> None:
    failure = next(f for f in result.failures if (f.rule, f.column) == key)
    assert failure.lines == EXPECTED[key]
    assert failure.count == len(EXPECTED[key])


def test_failures_are_ordered_by_column_then_rule(result: ValidationResult) -> None:
    keys = [(f.column, f.rule) for f in result.failures]
    order = {name: i for i, name in enumerate(SCHEMA.column_names)}
    rules = list(SEVERITIES)
    assert keys == sorted(keys, key=lambda k: (order[k[0]], rules.index(k[1])))


def test_severities_and_set_aside_lines(result: ValidationResult) -> None:
    for failure in result.failures:
        assert failure.severity == ("signaler" if failure.rule in SIGNALER else "ecarter")
    expected = {
        line for (rule, _), lines in EXPECTED.items() if rule not in SIGNALER for line in lines
    }
    assert result.set_aside_lines == frozenset(expected)
    assert not result.set_aside_lines & {100, 101, 110, 112, 114, 125, 126, 127}


def test_messages_are_french_and_hold_no_value(result: ValidationResult) -> None:
    cells = {v for row in RAW.drop("_ligne").iter_rows() for v in row if v and len(v) >= 4}
    for failure in result.failures:
        sentence = describe(failure, "ESSAI_20250630.csv")
        assert failure.message and f"(règle {failure.rule})" in sentence
        assert not [v for v in cells if v in failure.message or v in sentence]
    by_rule = {f.rule: f.message for f in result.failures}
    assert by_rule["date_possible"].startswith("date impossible (ex. 31/02)")
    assert by_rule["decimal"] == "nombre décimal attendu (séparateur décimal « , »)"


def test_valid_and_empty_frames_have_no_failure() -> None:
    empty = frame(SCHEMA, {}, VALID)
    for raw in (frame(SCHEMA, {7: {}, 8: {"NOTE": None}}, VALID), empty):
        checked = validate(raw, SCHEMA, COMMUNES_31, EXTRACTION)
        assert checked.failures == ()
        assert checked.set_aside_lines == frozenset()
        assert checked.rows == raw.height
        assert checked.ge_summary["success"] is True


def test_an_empty_list_of_communes_is_refused() -> None:
    with pytest.raises(ValueError, match="la liste des communes de la Haute-Garonne est vide"):
        validate(RAW, SCHEMA, frozenset(), EXTRACTION)


def test_a_missing_column_is_refused_before_validation() -> None:
    with pytest.raises(ValueError, match="colonnes absentes du tableau à valider : COM"):
        validate(RAW.drop("COM"), SCHEMA, COMMUNES_31, EXTRACTION)


def test_an_expectation_ge_cannot_evaluate_raises_without_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Hand GE text where it expects numbers: a metric error (whose own message may quote a
    # value), reported as a configuration problem naming only the expectation.
    real = validate_module.prepare_frame
    monkeypatch.setattr(
        validate_module,
        "prepare_frame",
        lambda *a: real(*a).with_columns(pl.col("M__nombre").cast(pl.String)),
    )
    with pytest.raises(ValidationRunError) as raised:
        validate(RAW, SCHEMA, COMMUNES_31, EXTRACTION)
    assert "(règle minimum, colonne M) n'a pas pu être évaluée" in str(raised.value)
    assert "12.5" not in str(raised.value)


# ------------------------------------------------------------------------ no value in results

RESULT_KEYS = {
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "missing_count",
    "missing_percent",
    "unexpected_percent_total",
    "unexpected_percent_nonmissing",
    "unexpected_index_column_names",
    "unexpected_index_list",
}


def _cell_values() -> set[str]:
    """Every value of the frame GE saw, as text: the delivery's cells and the helper columns."""
    suite = build_suite(SCHEMA, COMMUNES_31)
    prepared = prepare_frame(RAW, SCHEMA, validate_module._suite_columns(suite))
    values: set[str] = set()
    for series in prepared.drop("_ligne").iter_columns():
        for value in series.drop_nulls().to_list():
            values.add(str(value))
            if isinstance(value, float) and value.is_integer():
                values.add(str(int(value)))
    for row in RAW.drop("_ligne").iter_rows():
        values.update(v.strip() for v in row if v and v.strip())
    # Counts and line numbers are small integers: short cells (a 2-digit NIR key, "A", "0")
    # cannot be told apart from them in a text, which is why the structure is checked as well.
    return {v for v in values if len(v) >= 4}


def test_ge_results_hold_line_numbers_and_counts_only(captured: dict[str, Any]) -> None:
    lines = set(RAW["_ligne"].to_list())
    ge_results = captured["ge_results"]
    assert len(ge_results) == len(build_suite(SCHEMA, COMMUNES_31).expectations)
    for each in ge_results:
        assert set(each.result) <= RESULT_KEYS, each.expectation_config.type
        assert each.result["unexpected_index_column_names"] == ["_ligne"]
        for entry in each.result["unexpected_index_list"]:
            assert set(entry) == {"_ligne"}
            assert set(entry["_ligne"]) <= lines


def test_no_value_of_the_frame_in_serialized_ge_results(captured: dict[str, Any]) -> None:
    values = _cell_values()
    kept = json.dumps(captured["result"].ge_summary)
    assert not [v for v in values if v in kept]
    for each in captured["ge_results"]:
        serialized = each.to_json_dict()
        data_part = json.dumps({k: v for k, v in serialized.items() if k != "expectation_config"})
        assert not [v for v in values if v in data_part]


def test_ge_configurations_are_the_suite_not_the_data(captured: dict[str, Any]) -> None:
    """The other part of a result, its configuration, is the schema's suite, whatever the data."""
    expected = {}
    for expectation in build_suite(SCHEMA, COMMUNES_31).expectations:
        config = expectation.configuration.to_json_dict()
        if config["kwargs"].get("max_value") == {"$PARAMETER": "date_max"}:
            config["kwargs"]["max_value"] = date_max(EXTRACTION)
        expected[(config["meta"]["rule"], config["meta"]["column"], config["type"])] = config
    for each in captured["ge_results"]:
        config = each.to_json_dict()["expectation_config"]
        del config["kwargs"]["batch_id"]
        assert (
            config == expected[(config["meta"]["rule"], config["meta"]["column"], config["type"])]
        )


def test_no_value_of_the_frame_in_logs(captured: dict[str, Any]) -> None:
    logs = "\n".join(captured["logs"])
    assert not [v for v in _cell_values() - COMMUNES_31 if v in logs]


def test_ge_summary_is_json_safe_counts(result: ValidationResult) -> None:
    summary = json.loads(json.dumps(result.ge_summary))
    assert summary["success"] is False
    assert summary["evaluated_expectations"] == len(summary["expectations"])
    assert summary["unsuccessful_expectations"] == sum(
        1 for e in summary["expectations"] if not e["success"]
    )
    for entry in summary["expectations"]:
        assert set(entry) == {
            "type",
            "column",
            "ge_columns",
            "rule",
            "severity",
            "success",
            "element_count",
            "unexpected_count",
            "unexpected_percent",
        }
    nir_cle = next(e for e in summary["expectations"] if e["rule"] == "nir_cle")
    assert nir_cle == {
        "type": "expect_column_pair_values_to_be_equal",
        "column": "NIR",
        "ge_columns": ["NIR__cle", "NIR__cle_calculee"],
        "rule": "nir_cle",
        "severity": "signaler",
        "success": False,
        "element_count": len(RAW),
        "unexpected_count": 3,
        "unexpected_percent": nir_cle["unexpected_percent"],
    }


# ---------------------------------------------------------------------------------- NIR keys


def _random_nirs(n: int, seed: int = 31) -> list[str]:
    """Well-formed NIRs and NIAs, Corsica included, with right and wrong keys, some spaced."""
    rng = random.Random(seed)
    months = [f"{m:02d}" for m in [*range(1, 13), *range(20, 43), *range(50, 100)]]
    departments = [f"{d:02d}" for d in range(1, 96)] + ["2A", "2B", "99"] * 10
    nirs = []
    for _ in range(n):
        body = (
            rng.choice("123478")
            + f"{rng.randrange(100):02d}"
            + rng.choice(months)
            + rng.choice(departments)
            + f"{rng.randrange(1, 1000):03d}{rng.randrange(1, 1000):03d}"
        )
        key = with_key(body)[13:] if rng.random() < 0.6 else f"{rng.randrange(1, 98):02d}"
        nir = body + key
        if rng.random() < 0.2:
            nir = " ".join([nir[0], nir[1:3], nir[3:5], nir[5:7], nir[7:10], nir[10:13], key])
        nirs.append(nir)
    return nirs


def test_vectorised_nir_key_matches_stdnum() -> None:
    nirs = _random_nirs(2_000)
    compact = pl.Series(nirs).str.replace_all(" ", "", literal=True)
    given, computed = nir_key_expressions(pl.col("nir"))
    keys = pl.DataFrame({"nir": compact}).select(given.alias("g"), computed.alias("c"))
    ours = (keys["g"] == keys["c"]).to_list()
    assert ours == [stdnum_nir.is_valid(n) for n in nirs]
    assert 900 < sum(ours) < 1_600
    assert any("2A" in n for n in nirs) and any("2B" in n for n in nirs)
    assert any(n[0] in "78" for n in nirs)


def test_ge_nir_rules_match_stdnum() -> None:
    nirs = _random_nirs(2_000, seed=97)
    schema = Schema.model_validate(
        {
            "dataset": "NIRS",
            "convention": "essai",
            "file_name": "NIRS_{date}.csv",
            "format": "csv",
            "columns": [{"name": "NIR", "type": "nir", "required": True}],
        }
    )
    raw = pl.DataFrame({"_ligne": pl.Series(range(2, 2 + len(nirs)), dtype=pl.Int64), "NIR": nirs})
    checked = validate(raw, schema, COMMUNES_31, EXTRACTION)
    invalid = tuple(
        line for line, n in zip(raw["_ligne"], nirs, strict=True) if not stdnum_nir.is_valid(n)
    )
    assert [(f.rule, f.lines) for f in checked.failures] == [("nir_cle", invalid)]
    assert checked.set_aside_lines == frozenset()


# ------------------------------------------------------------------------- the real schemas

PATTERN_SAMPLES = {
    r"^\d{7}$": "1234567",
    r"^\d{5}$": "31000",
    r"^\d+$": "42",
    r"^\d{7}[A-Z]$": "1234567A",
}
DATE_SAMPLES = {
    "JJ/MM/AAAA": "15/03/1985",
    "AAAA-MM-JJ": "1985-03-15",
    "AAAAMMJJ": "19850315",
    "excel": "1985-03-15",
}


def _expected_rules(column: Column) -> set[str]:
    rules = set()
    if column.required:
        rules.add("obligatoire")
    if column.pattern:
        rules.add("format")
    if column.values:
        rules.add("valeurs_autorisees")
    by_type = {
        "integer": {"entier"},
        "decimal": {"decimal"},
        "date": {"date_format", "date_possible"},
        "nir": {"nir_format", "nir_cle"},
        "commune": {"commune_format", "commune_inconnue", "hors_departement"},
    }
    rules |= by_type.get(column.type, set())
    if column.min is not None:
        rules.add("minimum")
    return rules


def _valid_row(schema: Schema) -> dict[str, str]:
    """A valid record for any schema, from the schema alone."""
    row = {}
    for column in schema.columns:
        if column.values:
            value = column.values[0]
        elif column.pattern:
            value = PATTERN_SAMPLES[column.pattern]  # a new pattern needs a sample here
        elif column.type == "integer":
            value = "2"
        elif column.type == "decimal":
            value = f"12{schema.decimal}50"
        elif column.type == "date":
            value = DATE_SAMPLES[column.date_format or ""]
        elif column.type == "nir":
            value = with_key("1850331555042")
        elif column.type == "commune":
            value = "31555"
        else:
            value = "texte"
        row[column.name] = value
    return row


SCHEMAS = load_schemas()
BUILT_INS = {
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_between",
    "expect_column_pair_values_to_be_equal",
}


@pytest.mark.parametrize("schema_id", sorted(SCHEMAS))
def test_every_schema_builds_its_suite(schema_id: str) -> None:
    schema = SCHEMAS[schema_id]
    suite = build_suite(schema, COMMUNES_31)
    assert suite.name == f"{schema_id}_validation"
    built = {(e.meta["rule"], e.meta["column"]) for e in suite.expectations}
    expected = {(rule, c.name) for c in schema.columns for rule in _expected_rules(c)}
    assert built == expected
    assert {e.expectation_type for e in suite.expectations} <= BUILT_INS
    for expectation in suite.expectations:
        assert expectation.meta["severity"] == SEVERITIES[expectation.meta["rule"]]


@pytest.mark.parametrize("schema_id", sorted(SCHEMAS))
def test_a_valid_record_passes_every_schema(schema_id: str) -> None:
    schema = SCHEMAS[schema_id]
    raw = frame(schema, {2: {}}, _valid_row(schema))
    checked = validate(raw, schema, COMMUNES_31, EXTRACTION)
    assert checked.failures == ()
    assert checked.ge_summary["success"] is True


def test_carsat_unknown_day_and_month_and_caf_decimal_comma() -> None:
    carsat = SCHEMAS["carsatmp_retraites"]
    raw = frame(
        carsat,
        {2: {"DATE_NAISSANCE": "19400000"}, 3: {"PENSION_MENSUELLE_BRUTE": "812,40"}},
        _valid_row(carsat),
    )
    checked = validate(raw, carsat, COMMUNES_31, EXTRACTION)
    assert [(f.rule, f.column, f.lines) for f in checked.failures] == [
        ("decimal", "PENSION_MENSUELLE_BRUTE", (3,))
    ]


# ---------------------------------------------------------------------------------- describe


def test_describe_several_lines() -> None:
    failure = RuleFailure(
        "date_possible", "DTNAIS", "ecarter", 3, (12, 40, 41), "date impossible (ex. 31/02)"
    )
    assert describe(failure, "CAF31_ALLOCATAIRES_20250630.csv") == (
        "CAF31_ALLOCATAIRES_20250630.csv, ligne 12, colonne DTNAIS : date impossible "
        "(ex. 31/02) (règle date_possible) — 3 lignes en tout (lignes 12, 40, 41)"
    )


def test_describe_one_line() -> None:
    failure = RuleFailure("obligatoire", "NIR", "ecarter", 1, (7,), "valeur obligatoire absente")
    assert describe(failure, "CPAM31_CSS_20250630.csv") == (
        "CPAM31_CSS_20250630.csv, ligne 7, colonne NIR : valeur obligatoire absente "
        "(règle obligatoire)"
    )


def test_describe_many_lines_is_cut() -> None:
    lines = tuple(range(2, 1236))
    failure = RuleFailure("decimal", "MTAL", "ecarter", len(lines), lines, "nombre décimal attendu")
    assert describe(failure, "F.csv", max_lines=3) == (
        "F.csv, ligne 2, colonne MTAL : nombre décimal attendu (règle decimal) — "
        "1\u00a0234 lignes en tout (lignes 2, 3, 4…)"
    )
