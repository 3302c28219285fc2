"""The indicator catalogue as data, and its computation in DuckDB.

The rules (docs/regles.md) must be readable and recomputable by a DPO, an analyst or a test, and the
amounts they use are revalued every year. So an indicator is not Python code: it is an entry of
``indicators/catalogue.yaml`` (what it counts in plain French, its sources and caveats), one SQL
file (the rule itself, one query an analyst can read) and dated amounts in
``indicators/parameters.yaml``. What several rules share (a CAF household's composition and
scale, "known to social services", age bands...) is written once, one relation per SQL file of
``indicators/shared/``: each is created as a temporary table, in the order they read each other,
before an indicator that reads it runs, and dropped after. This module only checks those files
and runs the SQL.

Amounts stay exact end to end: YAML numbers are read as ``Decimal``, travel into DuckDB as
prepared parameters (never formatted into the SQL text, never floats), and the SQL compares
DECIMALs. A household whose resources sit exactly on a threshold falls on the side the rule
says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import duckdb
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from pipelines.crossing.sources import source_tables
from recours.conventions import KNOWN_SOURCE  # cd31: ``connu`` only, never in ``sources``
from recours.errors import RecoursError
from recours.sqlfile import SqlFileMissing, SqlFileNotUtf8, read_sql, sql_header
from recours.yamlfile import Located, YamlSyntaxError, load_located

if TYPE_CHECKING:
    import pyarrow as pa
    from pydantic_core import ErrorDetails

REPO_INDICATORS = Path(__file__).resolve().parents[2] / "indicators"
SQL = Path(__file__).resolve().parent / "sql"
CATALOGUE_FILE = "catalogue.yaml"
PARAMETERS_FILE = "parameters.yaml"
SHARED_DIR = "shared"  # one relation per file, read by name (the file's stem) by the other files

AGE_BANDS = ("0-17", "18-24", "25-34", "35-49", "50-64", "65-74", "75+")
HOUSEHOLD_TYPES = (
    "personne_seule",
    "famille_monoparentale",
    "couple_sans_enfant",
    "couple_avec_enfants",
)
# What compute_units returns, in this order and with these types: the publication's contract.
UNIT_COLUMNS = {
    "unite_id": "VARCHAR",
    "code_commune": "VARCHAR",
    "tranche_age": "VARCHAR",
    "type_menage": "VARCHAR",
    "non_recours": "BOOLEAN",
    "connu": "BOOLEAN",
}
_KNOWN_TABLE_COLUMNS = "personne_id VARCHAR, date_dernier_contact DATE, code_commune VARCHAR"
# Lines every SQL header must hold, so that an analyst knows what a file does before reading it.
HEADER_KEYS = ("Calcule", "Grain", "Sources")
REFERENCE = "reference"


class IndicatorError(RecoursError):
    """A catalogue, a parameter or a computation is wrong; the message says what, in French."""


class CatalogueError(IndicatorError):
    """One or more catalogue files are wrong; ``problems`` lists each, with its file and line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class ParametersNotInForce(IndicatorError):
    """No value of some parameter is in force at R: the period cannot be computed."""

    def __init__(self, reference: date, missing: dict[str, date | None]) -> None:
        by_start: dict[date | None, list[str]] = {}
        for name, start in missing.items():
            by_start.setdefault(start, []).append(name)
        detail = " ; ".join(
            f"{', '.join(names)} (en vigueur à partir du {start})" if start else ", ".join(names)
            for start, names in by_start.items()
        )
        super().__init__(
            f"période {reference:%Y-%m} refusée : aucune valeur en vigueur au {reference} dans "
            f"{PARAMETERS_FILE} pour {detail}"
        )
        self.reference, self.missing = reference, missing


@dataclass(frozen=True)
class SharedRelation:
    """One relation several SQL files read (``indicators/shared/<name>.sql``): a temporary table
    while an indicator that reads it, directly or through another shared relation, runs."""

    name: str  # the file's stem: the name the other SQL files read it by
    sql_path: Path
    reads: tuple[str, ...]  # the shared relations its own SQL reads


@dataclass(frozen=True)
class Indicator:
    """One catalogue entry, as the crossing and the publication use it."""

    id: str
    label: str
    definition: str  # plain French, for the published ``catalogue`` table
    unit: str  # "foyer" | "personne"
    sources: tuple[str, ...]  # convention ids; cd31 (``connu``) is implied
    age_bands: tuple[str, ...]
    household_types: tuple[str, ...]  # empty: no household-type breakdown
    caveats: str
    sql_path: Path
    # the shared relations its SQL reads, directly or not, in the order they must be created
    shared: tuple[SharedRelation, ...] = ()


# --- YAML, exact and located --------------------------------------------------------------------


class _ExactLoader(yaml.SafeLoader):
    """Safe YAML where a decimal number stays exact and a duplicated key is an error.

    ``value: 646.52`` must not become a binary float, and a second ``rsa_base:`` must not
    silently replace the first.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"clé « {key_node.value} » en double (déjà ligne {seen[key_node.value]})",
                    key_node.start_mark,
                )
            seen[key_node.value] = line
        return super().construct_mapping(node, deep=deep)


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise yaml.constructor.ConstructorError(
            None, None, f"nombre illisible : {text}", node.start_mark
        ) from None


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def _read_yaml(path: Path) -> Located:
    """Parse one file; any syntax problem becomes a CatalogueError naming the file and line."""
    try:
        located = load_located(path, _ExactLoader)
    except FileNotFoundError:
        raise CatalogueError([f"{path} : fichier introuvable"]) from None
    except UnicodeDecodeError:
        raise CatalogueError([f"{path.name} : fichier illisible (UTF-8 attendu)"]) from None
    except YamlSyntaxError as exc:
        raise CatalogueError([str(exc)]) from None
    except ValueError as exc:  # a value YAML cannot build, such as 2025-02-30
        raise CatalogueError([f"{path.name} : valeur illisible ({exc})"]) from None
    return located


# --- models -------------------------------------------------------------------------------------

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
SqlFileName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*\.sql$")]
Version = Annotated[int, Strict(), Field(ge=1)]
AgeBand = Literal["0-17", "18-24", "25-34", "35-49", "50-64", "65-74", "75+"]
HouseholdType = Literal[
    "personne_seule", "famille_monoparentale", "couple_sans_enfant", "couple_avec_enfants"
]


class _Model(BaseModel):
    """Unknown keys are refused: a misspelt key must not silently drop a rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _in_canonical_order(values: tuple[str, ...], order: tuple[str, ...]) -> tuple[str, ...]:
    """Published grids follow one order; a duplicate would count a band twice."""
    if len(set(values)) != len(values):
        raise ValueError("valeur en double")
    if list(values) != sorted(values, key=order.index):
        raise ValueError(f"dans l'ordre : {', '.join(order)}")
    return values


class _IndicatorEntry(_Model):
    id: Identifier
    label: Text
    definition: Text
    unit: Literal["foyer", "personne"]
    sources: tuple[Identifier, ...] = Field(min_length=1)
    age_bands: tuple[AgeBand, ...] = Field(min_length=1)
    household_types: tuple[HouseholdType, ...]
    caveats: Text
    sql: SqlFileName

    @field_validator("sources")
    @classmethod
    def _unique_sources(cls, sources: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(sources)) != len(sources):
            raise ValueError("convention en double")
        if KNOWN_SOURCE in sources:
            raise ValueError(f"{KNOWN_SOURCE} sert à tous les indicateurs : ne pas la lister")
        return sources

    @field_validator("age_bands")
    @classmethod
    def _bands_in_order(cls, bands: tuple[str, ...]) -> tuple[str, ...]:
        return _in_canonical_order(bands, AGE_BANDS)

    @field_validator("household_types")
    @classmethod
    def _types_in_order(cls, types: tuple[str, ...]) -> tuple[str, ...]:
        return _in_canonical_order(types, HOUSEHOLD_TYPES)


class _CatalogueFile(_Model):
    version: Version
    indicators: tuple[_IndicatorEntry, ...] = Field(min_length=1)


class _DatedValue(_Model):
    valid_from: date
    valid_to: date | None = None  # included; none: in force until the next value
    value: Decimal
    note: Text | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _exact_number(cls, value: Any) -> Any:
        """A float (or a boolean, which Python counts as a number) would not be exact."""
        if isinstance(value, bool | float):
            raise ValueError("nombre décimal exact attendu")
        return value

    @field_validator("value")
    @classmethod
    def _finite_not_negative(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or value < 0:
            raise ValueError("nombre positif ou nul attendu")
        return value

    @model_validator(mode="after")
    def _period(self) -> _DatedValue:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to est antérieure à valid_from")
        return self


class _Parameter(_Model):
    label: Text
    unit: Text
    values: tuple[_DatedValue, ...] = Field(min_length=1)

    @field_validator("values")
    @classmethod
    def _chronological(cls, values: tuple[_DatedValue, ...]) -> tuple[_DatedValue, ...]:
        """Values follow each other in time without overlap, so exactly one is in force."""
        for before, after in zip(values, values[1:], strict=False):
            if after.valid_from <= before.valid_from:
                raise ValueError("valeurs à ranger par valid_from croissant, sans doublon")
            if before.valid_to is not None and before.valid_to >= after.valid_from:
                raise ValueError(f"la valeur du {before.valid_from} chevauche la suivante")
        return values

    def value_on(self, day: date) -> Decimal | None:
        """The value in force on ``day``: the latest one started, unless it has ended."""
        started = [value for value in self.values if value.valid_from <= day]
        if not started or (started[-1].valid_to is not None and started[-1].valid_to < day):
            return None
        return started[-1].value


class _ParametersFile(_Model):
    version: Version
    parameters: dict[Identifier, _Parameter] = Field(min_length=1)

    @field_validator("parameters")
    @classmethod
    def _not_reserved(cls, parameters: dict[str, _Parameter]) -> dict[str, _Parameter]:
        if REFERENCE in parameters:
            raise ValueError(f"« {REFERENCE} » est réservé à la date de référence R")
        return parameters


# --- pydantic errors, in French -----------------------------------------------------------------

_MESSAGES = {
    "missing": "champ obligatoire manquant",
    "extra_forbidden": "champ inconnu (faute de frappe ?)",
    "string_type": "texte attendu",
    "string_too_short": "texte vide",
    "too_short": "liste vide",
    "tuple_type": "liste attendue",
    "list_type": "liste attendue",
    "dict_type": "table « clé : valeur » attendue",
    "model_type": "table « clé : valeur » attendue",
    "model_attributes_type": "table « clé : valeur » attendue",
    "int_type": "nombre entier attendu",
    "greater_than_equal": "doit valoir au moins {ge}",
    "date_type": "date AAAA-MM-JJ attendue",
    "date_parsing": "date AAAA-MM-JJ attendue",
    "date_from_datetime_parsing": "date AAAA-MM-JJ attendue",
    "decimal_type": "nombre attendu",
    "decimal_parsing": "nombre attendu",
}


def _translate(error: ErrorDetails, document: Located) -> str:
    loc = tuple(part for part in error["loc"] if part != "[key]")
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
    elif kind == "literal_error":
        message = (
            f"valeur non prévue, attendu : {str(ctx.get('expected', '')).replace(' or ', ' ou ')}"
        )
    elif kind == "string_pattern_mismatch":
        message = (
            "nom de fichier SQL invalide (minuscules, chiffres, _ et .sql)"
            if loc and loc[-1] == "sql"
            else "identifiant invalide (minuscules, chiffres et _, commençant par une lettre)"
        )
    else:
        # never pydantic's English: a rule without a French sentence is named by its type
        message = (
            _MESSAGES[kind].format(**ctx)
            if kind in _MESSAGES
            else f"valeur refusée (règle « {kind} »)"
        )
    where = ".".join(str(part) for part in loc)
    return document.problem(f"« {where} » : {message}" if where else message, *loc)


def _validate(model: type[BaseModel], document: Located) -> Any:
    if document.data is None:
        raise CatalogueError([f"{document.path.name} : fichier vide"])
    try:
        return model.model_validate(document.data)
    except ValidationError as exc:
        errors = [e for e in exc.errors() if not _echo(e)]
        raise CatalogueError([_translate(e, document) for e in errors]) from None


def _echo(error: ErrorDetails) -> bool:
    """Pydantic reports a list whose only item is invalid as also "too short": noise."""
    given = error.get("input")
    return error["type"] == "too_short" and isinstance(given, list | tuple | dict) and bool(given)


# --- catalogue ----------------------------------------------------------------------------------


def load_catalogue(directory: Path | None = None) -> dict[str, Indicator]:
    """Every indicator of ``directory`` (default: the repository's ``indicators/``), in file order.

    The whole folder is checked at once (catalogue, each SQL file, parameters), and every problem
    reported together, each with its file and line: the reader fixes a file, not a traceback.
    """
    directory = Path(directory) if directory is not None else REPO_INDICATORS
    problems: list[str] = []
    catalogue: _CatalogueFile | None = None
    parameter_names: set[str] | None = None  # unknown when parameters.yaml is itself wrong
    try:
        document = _read_yaml(directory / CATALOGUE_FILE)
        catalogue = _validate(_CatalogueFile, document)
    except CatalogueError as exc:
        problems.extend(exc.problems)
    try:
        parameter_names = set(_load_parameters(directory).parameters)
    except CatalogueError as exc:
        problems.extend(exc.problems)
    shared = _load_shared(directory, parameter_names, problems)
    if catalogue is None:
        raise CatalogueError(problems)
    seen: set[str] = set()
    reads: dict[str, set[str]] = {}
    for index, entry in enumerate(catalogue.indicators):
        if entry.id in seen:
            problems.append(
                document.problem(f"indicateur « {entry.id} » en double", "indicators", index, "id")
            )
        seen.add(entry.id)
        messages, reads[entry.id] = _sql_problems(directory / entry.sql, parameter_names, shared)
        for message in messages:
            problems.append(
                document.problem(f"{entry.sql} : {message}", "indicators", index, "sql")
            )
    if problems:
        raise CatalogueError(problems)
    return {
        entry.id: _indicator(entry, directory, _needed(reads[entry.id], shared))
        for entry in catalogue.indicators
    }


def load_shared(directory: Path | None = None) -> dict[str, SharedRelation]:
    """The shared relations of ``directory/shared`` (default: the repository's), checked, in an
    order where each comes after the ones it reads."""
    directory = Path(directory) if directory is not None else REPO_INDICATORS
    problems: list[str] = []
    parameter_names: set[str] | None = None
    try:
        parameter_names = set(_load_parameters(directory).parameters)
    except CatalogueError as exc:
        problems.extend(exc.problems)
    shared = _load_shared(directory, parameter_names, problems)
    if problems:
        raise CatalogueError(problems)
    return shared


def _load_shared(
    directory: Path, parameter_names: set[str] | None, problems: list[str]
) -> dict[str, SharedRelation]:
    """The shared relations of ``directory/shared``, checked like the indicators' files, in an
    order where each comes after the ones it reads; problems are appended to ``problems``."""
    paths = sorted((directory / SHARED_DIR).glob("*.sql"))
    names = {path.stem for path in paths}
    found: dict[str, SharedRelation] = {}
    for path in paths:
        where = f"{SHARED_DIR}/{path.name}"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", path.stem):
            problems.append(f"{where} : nom de fichier invalide (minuscules, chiffres, _ et .sql)")
            continue
        if path.stem in source_tables() or path.stem == REFERENCE:
            problems.append(f"{where} : nom réservé à une table de l'entrepôt")
            continue
        messages, reads = _sql_problems(path, parameter_names, names)
        problems.extend(f"{where} : {message}" for message in messages)
        found[path.stem] = SharedRelation(path.stem, path.resolve(), tuple(sorted(reads)))
    ordered: dict[str, SharedRelation] = {}
    while len(ordered) < len(found):
        ready = [
            relation
            for name, relation in found.items()
            if name not in ordered and all(read in ordered for read in relation.reads)
        ]
        if not ready:
            left = ", ".join(sorted(set(found) - set(ordered)))
            problems.append(
                f"{SHARED_DIR} : relations qui se lisent en boucle, ou qui lisent une relation "
                f"partagée en erreur : {left}"
            )
            break
        ordered.update((relation.name, relation) for relation in ready)
    return ordered


def _needed(reads: set[str], shared: dict[str, SharedRelation]) -> tuple[SharedRelation, ...]:
    """The shared relations ``reads`` names and those they read in turn, in creation order."""
    needed: set[str] = set()
    pending = list(reads)
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            pending.extend(shared[name].reads)
    return tuple(relation for name, relation in shared.items() if name in needed)


def _indicator(
    entry: _IndicatorEntry, directory: Path, shared: tuple[SharedRelation, ...]
) -> Indicator:
    return Indicator(
        id=entry.id,
        label=entry.label,
        definition=entry.definition,
        unit=entry.unit,
        sources=entry.sources,
        age_bands=entry.age_bands,
        household_types=entry.household_types,
        caveats=entry.caveats,
        sql_path=(directory / entry.sql).resolve(),
        shared=shared,
    )


def _sql_problems(
    path: Path, parameter_names: set[str] | None, shared: Collection[str]
) -> tuple[list[str], set[str]]:
    """What is wrong with one SQL file (an indicator's or a shared relation's), without running
    it, and the shared relations (among ``shared``) it reads."""
    try:
        text = read_sql(path)
    except SqlFileMissing:
        return ["fichier introuvable dans le dossier du catalogue"], set()
    except SqlFileNotUtf8:
        return ["fichier illisible (UTF-8 attendu)"], set()
    header = sql_header(text)
    if not header:
        missing = "commentaire d'en-tête manquant en première ligne (Calcule, Grain, Sources)"
        return [missing], set()
    problems = [
        f"ligne « -- {key} : » absente du commentaire d'en-tête"
        for key in HEADER_KEYS
        if not re.search(rf"^--\s*{key}\s*:", header, re.MULTILINE)
    ]
    try:
        with duckdb.connect() as probe:
            names = _named_parameters(probe, text)
            tables, steps = _names_read(probe, text)
    except (duckdb.Error, IndicatorError) as exc:
        return [*problems, f"SQL illisible ({exc})"], set()
    unknown = sorted(names - (parameter_names or names) - {REFERENCE})
    if unknown:
        listed = ", ".join(f"${name}" for name in unknown)
        problems.append(f"paramètre inconnu de {PARAMETERS_FILE} : {listed}")
    hidden = sorted(steps & set(shared))
    if hidden:
        problems.append(
            f"étape (with … as) qui porte le nom d'une relation partagée : {', '.join(hidden)}"
        )
    return problems, (tables & set(shared)) - steps


def _names_read(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[set[str], set[str]]:
    """The table names a query reads (its own ``with`` steps included) and the names of those
    steps, from DuckDB's parse tree: nothing is bound, so the tables need not exist."""
    tree = con.sql("select json_serialize_sql($sql)", params={"sql": sql}).fetchall()[0][0]
    parsed = json.loads(tree)
    if parsed.get("error"):
        raise IndicatorError(str(parsed.get("error_message", "requête illisible")))
    tables: set[str] = set()
    steps: set[str] = set()
    pending: list[Any] = [parsed]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE" and node.get("table_name"):
                tables.add(str(node["table_name"]).lower())
            for step in (node.get("cte_map") or {}).get("map", []):
                steps.add(str(step["key"]).lower())
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return tables, steps


def _named_parameters(con: duckdb.DuckDBPyConnection, sql: str) -> set[str]:
    """The ``$names`` of the file's single SELECT (comments ignored: DuckDB parses the file)."""
    statements = con.extract_statements(sql)
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise IndicatorError("une seule requête SELECT attendue par fichier")
    return set(statements[0].named_parameters)


# --- parameters ---------------------------------------------------------------------------------


def _load_parameters(directory: Path) -> _ParametersFile:
    return _validate(_ParametersFile, _read_yaml(directory / PARAMETERS_FILE))


def parameters_on(reference: date, directory: Path | None = None) -> dict[str, Decimal]:
    """Every parameter's value in force at R, as exact decimals.

    All or nothing: a period where one parameter has no value in force is refused, since a
    2025 rule applied with a 2024 amount (or none) would publish wrong figures.
    """
    parameters = _load_parameters(Path(directory) if directory is not None else REPO_INDICATORS)
    in_force: dict[str, Decimal] = {}
    missing: dict[str, date | None] = {}
    for name, parameter in parameters.parameters.items():
        value = parameter.value_on(reference)
        if value is None:
            later = [v.valid_from for v in parameter.values if v.valid_from > reference]
            missing[name] = later[0] if later else None
        else:
            in_force[name] = value
    if missing:
        raise ParametersNotInForce(reference, missing)
    return in_force


# --- computation --------------------------------------------------------------------------------


def compute_units(
    con: duckdb.DuckDBPyConnection,
    indicator: Indicator,
    reference: date,
    parameters: dict[str, Decimal],
) -> duckdb.DuckDBPyRelation:
    """One row per unit of the indicator's target population at R: the publication's input.

    Columns exactly ``UNIT_COLUMNS``. Units outside the département are kept (the publication
    leaves them out and counts them). The result is materialized: it no longer depends on the
    warehouse tables, and the stand-in for an absent ``cd31`` table is gone when it returns.
    """
    columns = [_unit_column(name, kind, indicator) for name, kind in UNIT_COLUMNS.items()]
    table = _run(con, indicator, reference, parameters, ", ".join(columns))
    _check_units(con, table, indicator)
    return con.from_arrow(table)


def compute_detail(
    con: duckdb.DuckDBPyConnection,
    indicator: Indicator,
    reference: date,
    parameters: dict[str, Decimal],
) -> duckdb.DuckDBPyRelation:
    """Every column the SQL file returns: the units plus the figures behind each decision
    (coefficient, forfait logement, threshold, pension compared...), for checking by hand."""
    return con.from_arrow(_run(con, indicator, reference, parameters, None))


def compute_shared(
    con: duckdb.DuckDBPyConnection,
    name: str,
    reference: date,
    parameters: dict[str, Decimal],
    directory: Path | None = None,
) -> duckdb.DuckDBPyRelation:
    """Every row of one shared relation at R (``foyers_caf``, ``personnes_connues``...), computed
    as an indicator reading it would see it: for checking by hand. Materialized, like
    ``compute_detail``: the temporary tables are gone when it returns."""
    shared = load_shared(directory)
    if name not in shared:
        raise IndicatorError(f"relation partagée inconnue : {name} (connues : {', '.join(shared)})")
    where = f"relation partagée {SHARED_DIR}/{shared[name].sql_path.name}"
    needed = _needed({name}, shared)
    with _known_or_empty(con), _shared_tables(con, where, needed, reference, parameters):
        return con.from_arrow(con.table(f"temp.{name}").to_arrow_table())


def _unit_column(name: str, kind: str, indicator: Indicator) -> str:
    if name == "type_menage" and not indicator.household_types:
        return f"cast(null as {kind}) as {name}"
    return f"cast({name} as {kind}) as {name}"


def _run(
    con: duckdb.DuckDBPyConnection,
    indicator: Indicator,
    reference: date,
    parameters: dict[str, Decimal],
    projection: str | None,
) -> pa.Table:
    where = f"indicateur {indicator.id} ({indicator.sql_path.name})"
    sql = read_sql(indicator.sql_path)
    values = _bind(con, where, sql, reference, parameters)
    shared = indicator.shared
    with _known_or_empty(con), _shared_tables(con, where, shared, reference, parameters):
        try:
            relation = con.sql(sql, params=values or None)
            if projection is not None:
                relation = relation.project(projection)
            return relation.to_arrow_table()
        except (duckdb.CatalogException, duckdb.BinderException) as exc:
            raise IndicatorError(
                f"{where} : table ou colonne introuvable dans l'entrepôt ({exc})"
            ) from exc


@contextmanager
def _shared_tables(
    con: duckdb.DuckDBPyConnection,
    reader: str,
    relations: tuple[SharedRelation, ...],
    reference: date,
    parameters: dict[str, Decimal],
) -> Iterator[None]:
    """``relations`` (what ``reader`` reads, in creation order) as temporary tables meanwhile.

    Each file runs with the same prepared parameters as the indicator's own file (its rows are
    inserted by ``insert into … <the file's query>``, never with values written into the SQL), in
    an order where a relation comes after those it reads. All are dropped on the way out, even
    after an error, so that none outlives the computation or hides a table of the warehouse."""
    created: list[str] = []
    try:
        for shared in relations:
            where = f"{reader}, relation partagée {SHARED_DIR}/{shared.sql_path.name}"
            sql = read_sql(shared.sql_path)
            values = _bind(con, where, sql, reference, parameters)
            if _table_exists(con, shared.name):
                raise IndicatorError(f"{where} : une table « {shared.name} » existe déjà")
            try:
                query = con.sql(sql, params=values or None)
                columns = ", ".join(
                    f"{_quoted(name)} {kind}"
                    for name, kind in zip(query.columns, query.types, strict=True)
                )
                con.execute(f"create temp table {shared.name} ({columns})")
                created.append(shared.name)
                con.execute(f"insert into temp.{shared.name} {sql}", values or None)
            except (duckdb.CatalogException, duckdb.BinderException) as exc:
                raise IndicatorError(
                    f"{where} : table ou colonne introuvable dans l'entrepôt ({exc})"
                ) from exc
        yield
    finally:
        for name in reversed(created):
            con.execute(f"drop table if exists temp.{name}")


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _bind(
    con: duckdb.DuckDBPyConnection,
    where: str,
    sql: str,
    reference: date,
    parameters: dict[str, Decimal],
) -> dict[str, Any]:
    """The prepared parameters the file uses, and only those (DuckDB refuses extra ones)."""
    _check_reference(reference)
    names = _named_parameters(con, sql)
    missing = sorted(names - set(parameters) - {REFERENCE})
    if missing:
        raise IndicatorError(f"{where} : paramètre sans valeur : {', '.join(missing)}")
    values: dict[str, Any] = {}
    for name in sorted(names):
        if name == REFERENCE:
            values[name] = reference
            continue
        value = parameters[name]
        if not isinstance(value, Decimal):
            raise IndicatorError(f"{where} : {name} doit être un Decimal (calcul exact)")
        values[name] = value
    return values


def _check_reference(reference: date) -> None:
    """R is the last day of a month: "R minus k months" and the age rules assume it."""
    if isinstance(reference, datetime) or not isinstance(reference, date):
        raise IndicatorError(f"date de référence attendue (datetime.date), reçu {reference!r}")
    if (reference + timedelta(days=1)).day != 1:
        raise IndicatorError(
            f"date de référence {reference} refusée : R est le dernier jour du mois de la période"
        )


@contextmanager
def _known_or_empty(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """When ``cd31`` is absent (its convention is not usable for the period), an empty
    temporary table stands in while the query runs: ``connu`` is then FALSE for every unit and
    each SQL file stays one plain query. It is dropped at once, so that it can never hide a
    ``cd31`` table created later in the same connection."""
    if _table_exists(con, KNOWN_SOURCE):
        yield
        return
    con.execute(f"create temp table {KNOWN_SOURCE} ({_KNOWN_TABLE_COLUMNS})")
    try:
        yield
    finally:
        con.execute(f"drop table if exists temp.{KNOWN_SOURCE}")


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Table or view ``name`` in the current database (or temporary), without a failing query
    that would abort a transaction the caller may have opened."""
    found = con.execute(
        read_sql(SQL / "table_visible.sql"), {"nom": name}
    ).fetchall()  # fetch to the end: DuckDB refuses new work while a result is unfinished
    return bool(found[0][0])


def _check_units(con: duckdb.DuckDBPyConnection, table: pa.Table, indicator: Indicator) -> None:
    """The contract the publication relies on: one row per unit, flags never NULL."""
    units = con.from_arrow(table)
    checked = units.query("unites", read_sql(SQL / "controle_unites.sql"))
    assert checked is not None  # a SELECT always has a result
    duplicates, flags = checked.fetchall()[0]
    where = f"indicateur {indicator.id} ({indicator.sql_path.name})"
    if duplicates:
        raise IndicatorError(f"{where} : unite_id vide ou en double ({duplicates} lignes)")
    if flags:
        raise IndicatorError(f"{where} : non_recours ou connu vide ({flags} valeurs)")
