"""Validation of a decoded delivery against its schema, with Great Expectations.

Why Great Expectations: the data team and the DPO get a standard, inspectable suite per dataset
(what is checked, on which column) and a standard summary of each run, instead of ad hoc checks.
Why it is generated from the schema: adding a partner must need a YAML file, not Python code.

How the work is split:

* polars prepares the frame once: empty fields become nulls, and helper columns carry what a
  regular expression cannot express (a parsed number, a calendar date as ``AAAAMMJJ``, a NIR key
  computed modulo 97, a commune code kept only when well formed) -- all vectorised, no per-row
  Python, so that the 700 000 rows of the CAF file validate in seconds;
* Great Expectations decides every failure, with built-in expectations (not null, regex, in set,
  between, pair equality) on the delivery's columns or on those helper columns, run on pandas
  (GE 1.x cannot validate inside DuckDB) and identifying failing rows by ``_ligne`` only;
* this module turns GE's results into :class:`RuleFailure` records: rule, column, severity,
  count and line numbers, never a value from the file (docs/architecture.md, invariant 1).

Results hold no value: the result format excludes unexpected values and partial lists, the
rows are identified through a pandas index named ``_ligne`` (a line number, not data), and only a
summary of counts leaves this module (``ValidationResult.ge_summary``).
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import polars as pl

from anonymization import nir
from recours.schemas import DATE_FORMATS, Column, Schema

if TYPE_CHECKING:
    import great_expectations as gx
    import pandas as pd
    from great_expectations.core import ExpectationValidationResult
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.expectations import Expectation

Severity = Literal["ecarter", "signaler"]

LINE = "_ligne"
"""Physical line (or Excel row) where the record starts: the only thing GE may report."""

# Rule ids in the order failures are listed for one column, with their severity: "ecarter" sets
# the row aside; "signaler" keeps it and only counts it (a NIR with a bad key still links on the
# other identity fields; a person living outside 31 may have moved and still links).
SEVERITIES: dict[str, Severity] = {
    "obligatoire": "ecarter",
    "format": "ecarter",
    "valeurs_autorisees": "ecarter",
    "entier": "ecarter",
    "decimal": "ecarter",
    "minimum": "ecarter",
    "date_format": "ecarter",
    "date_possible": "ecarter",
    "nir_format": "signaler",
    "nir_cle": "signaler",
    "commune_format": "ecarter",
    "commune_inconnue": "ecarter",
    "hors_departement": "signaler",
}
_RULE_ORDER = {rule: i for i, rule in enumerate(SEVERITIES)}

# GE's result format: every failing row's `_ligne` (COMPLETE, through the named index), and no
# value anywhere -- no unexpected_list, partial list, value counts, rows or pandas query.
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": [LINE],
    "exclude_unexpected_values": True,
    "partial_unexpected_count": 0,
    "include_unexpected_rows": False,
    "return_unexpected_index_query": False,
}

# Our own regular expressions are written for both engines that apply them: Python's `re` or
# RE2 (pandas, hence GE) and Rust's regex (polars, for the helper columns). `[0-9]` because
# `\d` is Unicode-wide; `\Z` (end of text, no trailing newline) is spelt `\z` for polars.
NIR_REGEX = nir.NIR_SHAPE
COMMUNE_REGEX = r"^(?:[0-9]{5}|2[AB][0-9]{3})\Z"
DEPARTEMENT_REGEX = r"^31"
DATE_MIN = 18900101  # "AAAAMMJJ": nobody alive, no right open, before 1890
DATE_MAX_PARAMETER = "date_max"  # extraction date + 2 years, bound at validation time
# Day, month and year positions (offset, length) in each date format.
_DATE_PARTS = {
    "JJ/MM/AAAA": ((0, 2), (3, 2), (6, 4)),
    "AAAA-MM-JJ": ((8, 2), (5, 2), (0, 4)),
    "excel": ((8, 2), (5, 2), (0, 4)),
    "AAAAMMJJ": ((6, 2), (4, 2), (0, 4)),
}


@dataclass(frozen=True)
class RuleFailure:
    """One rule broken on one column, with every failing line; never a cell value."""

    rule: str
    column: str
    severity: Severity
    count: int
    lines: tuple[int, ...]
    message: str


@dataclass(frozen=True)
class ValidationResult:
    """What the ingest step needs to decide: failures, rows to set aside, a value-free summary."""

    failures: tuple[RuleFailure, ...]
    rows: int
    set_aside_lines: frozenset[int]
    ge_summary: dict


class ValidationRunError(RuntimeError):
    """GE could not evaluate an expectation: a configuration problem, not bad data.

    The message names the expectation and column only: GE's own exception text may quote data.
    """


# --------------------------------------------------------------------------- Great Expectations


@functools.cache
def _gx() -> Any:
    """Import GE lazily: it takes seconds, and DAG files import ingest modules at parse time.

    Usage statistics off: no network call (docs/architecture.md, invariant 6): this
    build of GE 1.24.1 ships no analytics client at all, the variable and the context's
    ``analytics_enabled=False`` keep it that way if one comes back. Data Docs are never built.
    """
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    import great_expectations

    return great_expectations


@functools.cache
def _context() -> Any:
    """One in-memory context per process: no project on disk, no Data Docs, no progress bars.

    GE wants an active context even to assemble a suite, so :func:`build_suite` calls this too.
    """
    gx = _gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


@functools.cache
def _batch_definition() -> BatchDefinition:
    """A whole-dataframe batch definition, reused for every delivery (the frame is a parameter).

    GE's pandas engine fingerprints every batch (an md5 of the whole frame, 2.5 s per load of
    the CAF file) into result metadata we never keep; a zero threshold turns that off, and no
    digest of personal data ends up in the results either.
    """
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0
    asset = _context().data_sources.add_pandas("recours").add_dataframe_asset("livraison")
    return asset.add_batch_definition_whole_dataframe("livraison_entiere")


def _helper(column: str, kind: str) -> str:
    """Name of a derived column handed to GE beside the delivery's own columns."""
    return f"{column}__{kind}"


def _full(pattern: str) -> str:
    """A schema pattern must describe the whole value (GE's regex expectation searches)."""
    return rf"^(?:{pattern})\Z"


def _number_regex(column: Column, decimal_mark: str) -> str:
    if column.type == "integer":
        return r"^[+-]?[0-9]+\Z"
    return rf"^[+-]?[0-9]+(?:{re.escape(decimal_mark)}[0-9]+)?\Z"


def _column_expectations(
    schema: Schema, column: Column, communes_31: frozenset[str]
) -> list[tuple[str, Expectation]]:
    """(rule id, expectation) pairs for one column, straight from its schema entry."""
    ex = _gx().expectations
    from great_expectations.expectations.row_conditions import Column as Where

    name = column.name
    checks: list[tuple[str, Expectation]] = []

    def check(rule: str, expectation: Expectation) -> None:
        checks.append((rule, expectation))

    if column.required:
        # A NIR made only of spaces is as missing as an empty one.
        present = _helper(name, "nir") if column.type == "nir" else name
        check("obligatoire", ex.ExpectColumnValuesToNotBeNull(column=present))
    if column.pattern is not None:
        check("format", ex.ExpectColumnValuesToMatchRegex(column=name, regex=_full(column.pattern)))
    if column.values is not None:
        check(
            "valeurs_autorisees",
            ex.ExpectColumnValuesToBeInSet(column=name, value_set=list(column.values)),
        )
    if column.type in ("integer", "decimal"):
        regex = _number_regex(column, schema.decimal)
        rule = "entier" if column.type == "integer" else "decimal"
        check(rule, ex.ExpectColumnValuesToMatchRegex(column=name, regex=regex))
        if column.min is not None:
            number = _helper(name, "nombre")
            check("minimum", ex.ExpectColumnValuesToBeBetween(column=number, min_value=column.min))
    elif column.type == "date":
        assert column.date_format is not None  # the schema model enforces it
        shape = _full(DATE_FORMATS[column.date_format][1])
        parsed, shaped = _helper(name, "date"), Where(_helper(name, "forme"))
        check("date_format", ex.ExpectColumnValuesToMatchRegex(column=name, regex=shape))
        # Well shaped but no calendar date (31/02, month 13): the parsed helper is null.
        check(
            "date_possible",
            ex.ExpectColumnValuesToNotBeNull(column=parsed, row_condition=shaped.is_not_null()),
        )
        check(
            "date_possible",
            ex.ExpectColumnValuesToBeBetween(
                column=parsed, min_value=DATE_MIN, max_value={"$PARAMETER": DATE_MAX_PARAMETER}
            ),
        )
    elif column.type == "nir":
        compact = _helper(name, "nir")
        check("nir_format", ex.ExpectColumnValuesToMatchRegex(column=compact, regex=NIR_REGEX))
        check(
            "nir_cle",
            ex.ExpectColumnPairValuesToBeEqual(
                column_A=_helper(name, "cle"),
                column_B=_helper(name, "cle_calculee"),
                ignore_row_if="either_value_is_missing",
            ),
        )
    elif column.type == "commune":
        in_31, well_formed = _helper(name, "commune_31"), _helper(name, "commune")
        check("commune_format", ex.ExpectColumnValuesToMatchRegex(column=name, regex=COMMUNE_REGEX))
        check(
            "commune_inconnue",
            ex.ExpectColumnValuesToBeInSet(column=in_31, value_set=sorted(communes_31)),
        )
        check(
            "hors_departement",
            ex.ExpectColumnValuesToMatchRegex(column=well_formed, regex=DEPARTEMENT_REGEX),
        )
    return checks


def build_suite(schema: Schema, communes_31: frozenset[str]) -> gx.ExpectationSuite:
    """The dataset's suite; each expectation's ``meta`` says which rule of which column it is."""
    if not communes_31 and any(c.type == "commune" for c in schema.columns):
        # Would set every resident of 31 aside as "commune inconnue": a caller's mistake.
        raise ValueError("la liste des communes de la Haute-Garonne est vide")
    gx = _gx()
    _context()
    suite = gx.ExpectationSuite(name=f"{schema.id}_validation")
    for column in schema.columns:
        for rule, expectation in _column_expectations(schema, column, communes_31):
            expectation.meta = {"rule": rule, "column": column.name, "severity": SEVERITIES[rule]}
            suite.add_expectation(expectation)
    return suite


# --------------------------------------------------------------------------------- polars side


def _polars_regex(regex: str) -> str:
    return regex.replace(r"\Z", r"\z")


def _present(name: str) -> pl.Expr:
    """The column with empty fields as nulls: both mean "missing"."""
    value = pl.col(name)
    return pl.when(value != "").then(value)


def _date_helpers(column: Column) -> dict[str, pl.Expr]:
    """``forme``: the value when well shaped; ``date``: ``AAAAMMJJ`` when it is a calendar date.

    Computed arithmetically (month range, days in month, leap years) so that an impossible date
    is a null, never an exception or a per-row Python call.
    """
    assert column.date_format is not None
    value = _present(column.name)
    shaped = value.str.contains(_polars_regex(_full(DATE_FORMATS[column.date_format][1])))
    (d_at, d_len), (m_at, m_len), (y_at, y_len) = _DATE_PARTS[column.date_format]
    day = value.str.slice(d_at, d_len).cast(pl.Int32, strict=False)
    month = value.str.slice(m_at, m_len).cast(pl.Int32, strict=False)
    year = value.str.slice(y_at, y_len).cast(pl.Int32, strict=False)
    if column.unknown_day_month:  # "00" = unknown: day 1, January
        day = pl.when(day == 0).then(1).otherwise(day)
        month = pl.when(month == 0).then(1).otherwise(month)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days_in_month = (
        pl.when(month == 2)
        .then(pl.when(leap).then(29).otherwise(28))
        .when(month.is_in([4, 6, 9, 11]))
        .then(30)
        .otherwise(31)
    )
    possible = shaped & month.is_between(1, 12) & day.is_between(1, days_in_month)
    # Float64, as every numeric helper: GE compares int64/float64 columns vectorised, any other
    # dtype (int32, nullable Arrow) with a Python call per row.
    as_number = (year * 10_000 + month * 100 + day).cast(pl.Float64)
    return {
        _helper(column.name, "forme"): pl.when(shaped).then(value),
        _helper(column.name, "date"): pl.when(possible).then(as_number),
    }


def nir_key_expressions(normalized: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(key given, key computed) of well-formed NIRs, null otherwise: see ``anonymization.nir``."""
    return nir.key_parts(normalized)


def _nir_helpers(column: Column) -> dict[str, pl.Expr]:
    """The NIR without its spaces, upper-cased (``2a`` is Corsica), as stdnum's compact does."""
    compact = nir.normalize(_present(column.name))
    compact = pl.when(compact != "").then(compact)
    given, computed = nir_key_expressions(compact)
    return {
        _helper(column.name, "nir"): compact,
        _helper(column.name, "cle"): given,
        _helper(column.name, "cle_calculee"): computed,
    }


def _commune_helpers(column: Column) -> dict[str, pl.Expr]:
    """The code when well formed (for the 31 check), and when well formed and in 31."""
    value = _present(column.name)
    well_formed = value.str.contains(_polars_regex(COMMUNE_REGEX))
    in_31 = well_formed & value.str.starts_with("31")
    return {
        _helper(column.name, "commune"): pl.when(well_formed).then(value),
        _helper(column.name, "commune_31"): pl.when(in_31).then(value),
    }


def _number_helpers(column: Column, decimal_mark: str) -> dict[str, pl.Expr]:
    """The number, when written as the schema says (so that "1e5" or "inf" are not numbers)."""
    value = _present(column.name)
    well_formed = value.str.contains(_polars_regex(_number_regex(column, decimal_mark)))
    parsed = value.str.replace(decimal_mark, ".", literal=True).cast(pl.Float64, strict=False)
    return {_helper(column.name, "nombre"): pl.when(well_formed).then(parsed)}


def _frame_expressions(schema: Schema) -> dict[str, pl.Expr]:
    """Every column GE may look at, by name: the delivery's (empties as nulls) and helpers."""
    helpers: dict[str, pl.Expr] = {}
    for column in schema.columns:
        if column.type in ("integer", "decimal"):
            helpers.update(_number_helpers(column, schema.decimal))
        elif column.type == "date":
            helpers.update(_date_helpers(column))
        elif column.type == "nir":
            helpers.update(_nir_helpers(column))
        elif column.type == "commune":
            helpers.update(_commune_helpers(column))
    clash = sorted(set(helpers) & set(schema.column_names))
    if clash:
        raise ValueError(f"colonnes du schéma en conflit avec des colonnes dérivées : {clash}")
    return {name: _present(name) for name in schema.column_names} | helpers


def _expectation_columns(expectation: Expectation) -> list[str]:
    """Frame columns one expectation reads, its row condition included."""
    names = [getattr(expectation, key, None) for key in ("column", "column_A", "column_B")]
    condition = getattr(expectation, "row_condition", None)
    if condition is not None:  # our conditions are on one helper column
        names.append(condition.column.name)
    return [name for name in names if name]


def _suite_columns(suite: gx.ExpectationSuite) -> list[str]:
    """Columns the suite reads: only those go to pandas (less memory, fewer identifiers)."""
    names: list[str] = []
    for expectation in suite.expectations:
        names.extend(c for c in _expectation_columns(expectation) if c not in names)
    return names


def prepare_frame(raw: pl.DataFrame, schema: Schema, columns: list[str]) -> pl.DataFrame:
    """``_ligne`` plus the requested columns (delivery's or helpers), computed in one pass."""
    missing = [name for name in [LINE, *schema.column_names] if name not in raw.columns]
    if missing:
        raise ValueError(f"colonnes absentes du tableau à valider : {', '.join(missing)}")
    exprs = _frame_expressions(schema)
    cast = {name: pl.col(name).cast(pl.String) for name in schema.column_names}
    return (
        raw.lazy()
        .select(pl.col(LINE).cast(pl.Int64), *[e.alias(n) for n, e in cast.items()])
        .select(pl.col(LINE), *[exprs[name].alias(name) for name in columns])
        .collect()
    )


# --------------------------------------------------------------------------------- validation


def date_max(extraction: date) -> int:
    """Latest possible date, ``AAAAMMJJ``: the extraction date plus two years (29/02 -> 28/02)."""
    year, month, day = extraction.year + 2, extraction.month, extraction.day
    if (month, day) == (2, 29):
        day = 28
    return year * 10_000 + month * 100 + day


def validate(
    raw: pl.DataFrame, schema: Schema, communes_31: frozenset[str], extraction: date
) -> ValidationResult:
    """Run the schema's suite on a delivery; failures by rule and column, with line numbers."""
    suite = build_suite(schema, communes_31)
    frame = prepare_frame(raw, schema, _suite_columns(suite))
    # One polars -> pandas conversion per delivery: strings stay Arrow-backed (pandas "str",
    # fast regex), numbers become float64 with NaN, the dtype GE compares without a Python loop.
    # The `_ligne` index is how GE reports failing rows without quoting any of their values.
    data = frame.to_pandas().set_index(LINE)
    parameters = {DATE_MAX_PARAMETER: date_max(extraction)}
    results: list[ExpectationValidationResult] = []
    for column, expectations in _by_column(suite).items():
        results.extend(_run(suite.name, column, expectations, data, parameters))
    return _collect(results, suite.name, schema, frame.height)


def _by_column(suite: gx.ExpectationSuite) -> dict[str, list[Expectation]]:
    groups: dict[str, list[Expectation]] = {}
    for expectation in suite.expectations:
        # build_suite gives every expectation its meta; GE only types it as optional.
        meta = cast(dict[str, Any], expectation.meta)
        groups.setdefault(meta["column"], []).append(expectation)
    return groups


def _run(
    suite_name: str,
    column: str,
    expectations: list[Expectation],
    data: pd.DataFrame,
    parameters: dict[str, Any],
) -> list[ExpectationValidationResult]:
    """Validate one schema column's expectations on the few frame columns they read.

    Why per column: GE's pandas engine filters the whole frame's rows for every metric of every
    expectation, so its cost grows with expectations x columns; on narrow frames (pandas selects
    columns without copying) the CAF file validates several times faster.
    """
    gx = _gx()
    from great_expectations.validator.v1_validator import Validator

    columns: list[str] = []
    for expectation in expectations:
        columns.extend(c for c in _expectation_columns(expectation) if c not in columns)
    # What `Batch.validate` runs, minus its second load of the batch.
    validator = Validator(
        batch_definition=_batch_definition(),
        batch_parameters={"dataframe": data[columns]},
        result_format=dict(RESULT_FORMAT),
    )
    part = gx.ExpectationSuite(
        name=f"{suite_name}_{column}", expectations=[e.configuration for e in expectations]
    )
    if len(part.expectations) != len(expectations):  # GE logs and drops an invalid one
        raise ValidationRunError(f"{suite_name} : attente invalide sur la colonne {column}")
    return validator.validate_expectation_suite(part, expectation_parameters=parameters).results


def _raised(exception_info: dict) -> bool:
    if "raised_exception" in exception_info:
        return bool(exception_info["raised_exception"])
    return any(isinstance(v, dict) and v.get("raised_exception") for v in exception_info.values())


def _failing_lines(result: dict) -> np.ndarray:
    """The `_ligne` of every failing row, as GE listed them (a whole file may fail a rule)."""
    parts = [np.asarray(entry[LINE], dtype=np.int64) for entry in result["unexpected_index_list"]]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def _sorted_unique(parts: list[np.ndarray]) -> np.ndarray:
    """Sorted distinct lines (np.unique's hash path takes seconds on 700 000 sorted ints)."""
    lines = np.sort(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)
    if len(lines) < 2:
        return lines
    return lines[np.concatenate(([True], lines[1:] != lines[:-1]))]


def _collect(
    results: list[ExpectationValidationResult], suite_name: str, schema: Schema, rows: int
) -> ValidationResult:
    """GE's results -> failures (merged per rule and column) and a value-free summary."""
    position = {name: i for i, name in enumerate(schema.column_names)}
    lines_by_rule: dict[tuple[str, str], list[np.ndarray]] = {}
    summary: list[dict[str, Any]] = []
    for each in results:
        config = each.expectation_config
        if config is None:  # GE attaches its expectation to every result of a suite
            raise ValidationRunError(f"{schema.id} : un résultat de validation sans son attente")
        rule, column = config.meta["rule"], config.meta["column"]
        ge_columns = [
            config.kwargs[k] for k in ("column", "column_A", "column_B") if k in config.kwargs
        ]
        what = f"{schema.id} : l'attente {config.type} (règle {rule}, colonne {column})"
        if _raised(each.exception_info or {}) or (not each.success and not each.result):
            raise ValidationRunError(f"{what} n'a pas pu être évaluée")
        lines = _failing_lines(each.result)
        if len(lines) != each.result["unexpected_count"]:
            raise ValidationRunError(f"{what} n'a pas renvoyé toutes les lignes en échec")
        lines_by_rule.setdefault((rule, column), []).append(lines)
        percent = each.result.get("unexpected_percent")
        summary.append(
            {
                "type": config.type,
                "column": column,
                "ge_columns": ge_columns,
                "rule": rule,
                "severity": SEVERITIES[rule],
                "success": bool(each.success),
                "element_count": int(each.result.get("element_count") or 0),
                "unexpected_count": int(each.result["unexpected_count"]),
                "unexpected_percent": None if percent is None else float(percent),
            }
        )
    summary.sort(key=lambda e: (position[e["column"]], _RULE_ORDER[e["rule"]], e["type"]))
    failures: list[RuleFailure] = []
    set_aside: list[np.ndarray] = []
    for (rule, column), parts in sorted(
        lines_by_rule.items(), key=lambda kv: (position[kv[0][1]], _RULE_ORDER[kv[0][0]])
    ):
        lines = _sorted_unique(parts)  # two expectations of one rule may list the same line
        if not len(lines):
            continue
        if SEVERITIES[rule] == "ecarter":
            set_aside.append(lines)
        failures.append(
            RuleFailure(
                rule=rule,
                column=column,
                severity=SEVERITIES[rule],
                count=len(lines),
                lines=tuple(lines.tolist()),
                message=rule_message(rule, schema.column(column), schema),
            )
        )
    aside = _sorted_unique(set_aside)
    successful = sum(1 for entry in summary if entry["success"])
    ge_summary = {
        "success": successful == len(summary),
        "suite": suite_name,
        "evaluated_expectations": len(summary),
        "successful_expectations": successful,
        "unsuccessful_expectations": len(summary) - successful,
        "expectations": summary,
    }
    return ValidationResult(
        failures=tuple(failures),
        rows=rows,
        set_aside_lines=frozenset(aside.tolist()),
        ge_summary=ge_summary,
    )


# ------------------------------------------------------------------------------ French wording


def rule_message(rule: str, column: Column, schema: Schema) -> str:
    """What the rule is, for the data team: from the schema only, never from the file."""
    if rule == "obligatoire":
        return "valeur obligatoire absente"
    if rule == "format":
        return f"format non conforme au dessin de fichier (motif {column.pattern})"
    if rule == "valeurs_autorisees":
        return f"valeur hors de la liste autorisée ({', '.join(column.values or [])})"
    if rule == "entier":
        return "nombre entier attendu"
    if rule == "decimal":
        return f"nombre décimal attendu (séparateur décimal « {schema.decimal} »)"
    if rule == "minimum":
        return f"valeur inférieure au minimum autorisé ({column.min:g})"
    if rule == "date_format":
        return f"date au format {column.date_format} attendue"
    if rule == "date_possible":
        return (
            "date impossible (ex. 31/02), antérieure à 1890 "
            "ou postérieure de plus de 2 ans à la date d'extraction"
        )
    if rule == "nir_format":
        return (
            "NIR mal formé (15 caractères : sexe, année, mois, département ou 2A/2B, "
            "commune, ordre, clé) ; ligne conservée, NIR compté invalide"
        )
    if rule == "nir_cle":
        return "clé de contrôle du NIR incorrecte ; ligne conservée, NIR compté invalide"
    if rule == "commune_format":
        return "code commune INSEE mal formé (5 chiffres, ou 2A/2B suivi de 3 chiffres)"
    if rule == "commune_inconnue":
        return "code commune en 31 inconnu du code officiel géographique de la Haute-Garonne"
    if rule == "hors_departement":
        return "commune de résidence hors Haute-Garonne ; ligne conservée"
    raise ValueError(f"règle inconnue : {rule}")


def _french_int(n: int) -> str:
    return f"{n:,}".replace(",", "\u00a0")


def describe(failure: RuleFailure, file_name: str, max_lines: int = 5) -> str:
    """One sentence naming the file, the line(s), the column and the rule; no cell value.

    >>> f = RuleFailure("date_possible", "DTNAIS", "ecarter", 3, (12, 40, 41), "date impossible")
    >>> describe(f, "CAF31_ALLOCATAIRES_20250630.csv")
    'CAF31_ALLOCATAIRES_20250630.csv, ligne 12, colonne DTNAIS : date impossible (règle \
date_possible) — 3 lignes en tout (lignes 12, 40, 41)'
    """
    first = failure.lines[0] if failure.lines else None
    where = f"ligne {first}" if first is not None else "aucune ligne"
    sentence = (
        f"{file_name}, {where}, colonne {failure.column} : {failure.message} (règle {failure.rule})"
    )
    if failure.count > 1:
        shown = ", ".join(str(line) for line in failure.lines[:max_lines])
        more = "…" if len(failure.lines) > max_lines else ""
        sentence += f" — {_french_int(failure.count)} lignes en tout (lignes {shown}{more})"
    return sentence
