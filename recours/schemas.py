"""Dataset schemas: the partners' file layouts ("dessins de fichiers") as data.

One YAML file per dataset in ``schemas/`` drives the one reader, the validation suite and the
synthetic generator, so adding a partner needs a schema file and a convention file, no Python.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from recours.errors import YamlFileError
from recours.yamlfile import YamlSyntaxError, load_yaml

ColumnType = Literal["string", "text", "integer", "decimal", "date", "nir", "commune"]
# What a column *means*, whatever each partner calls it: the pipeline's generic steps
# (pseudonymization, generalisation, territory) work on roles, never on partner column names.
Role = Literal[
    "nir",
    "nom_naissance",
    "nom_usage",
    "prenoms",
    "date_naissance",
    "sexe",
    "commune",
    "foyer",
    "identifiant_partenaire",
]
DATE_FORMATS = {
    "JJ/MM/AAAA": ("%d/%m/%Y", r"^\d{2}/\d{2}/\d{4}$"),
    "AAAA-MM-JJ": ("%Y-%m-%d", r"^\d{4}-\d{2}-\d{2}$"),
    "AAAAMMJJ": ("%Y%m%d", r"^\d{8}$"),
    "excel": ("%Y-%m-%d", r"^\d{4}-\d{2}-\d{2}$"),  # Excel dates arrive typed, shown ISO
}
REPO_SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    type: ColumnType
    role: Role | None = None
    required: bool = False
    pattern: str | None = None
    values: list[str] | None = None
    min: float | None = None
    date_format: Literal["JJ/MM/AAAA", "AAAA-MM-JJ", "AAAAMMJJ", "excel"] | None = None
    unknown_day_month: bool = False  # "00" for an unknown day or month of birth
    sex_codes: dict[str, Literal["1", "2"]] | None = None  # partner code -> 1 male, 2 female

    @model_validator(mode="after")
    def _date_needs_format(self) -> Column:
        if self.type == "date" and self.date_format is None:
            raise ValueError(f"colonne {self.name} : une date doit préciser date_format")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:  # not a ValueError: pydantic would let it through raw
                raise ValueError(
                    f"colonne {self.name} : motif « pattern » invalide (expression régulière "
                    f"incorrecte, position {exc.pos})"
                ) from None
        return self

    @property
    def strftime(self) -> str | None:
        return DATE_FORMATS[self.date_format][0] if self.date_format else None


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str
    convention: str
    file_name: str = Field(description="with {date} standing for AAAAMMJJ")
    format: Literal["csv", "xlsx"]
    encoding: Literal["utf-8", "utf-8-sig", "cp1252", "latin-1"] = "utf-8"
    separator: str = ";"
    quote: str | None = '"'
    decimal: Literal[".", ","] = "."
    line_ending: Literal["lf", "crlf"] = "lf"
    strip: bool = False
    sheet: str | None = None
    periodicity_months: int = 1
    max_bad_row_share: float = 0.05
    columns: list[Column]

    @field_validator("columns")
    @classmethod
    def _unique_names(cls, columns: list[Column]) -> list[Column]:
        names = [c.name for c in columns]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"colonnes en double : {sorted(dupes)}")
        return columns

    @property
    def id(self) -> str:
        return f"{self.convention}_{self.dataset.lower()}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def by_role(self, role: str) -> Column | None:
        return next((c for c in self.columns if c.role == role), None)

    def file_regex(self) -> re.Pattern[str]:
        """File name of a delivery: the layout's name, optionally gzip-compressed."""
        stem = re.escape(self.file_name).replace(r"\{date\}", r"(?P<date>\d{8})")
        return re.compile(rf"^{stem}(?P<gz>\.gz)?$")

    def extraction_date(self, file_name: str) -> date | None:
        match = self.file_regex().match(file_name)
        if match is None:
            return None
        raw = match.group("date")
        try:
            return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        except ValueError:
            return None


class SchemaError(YamlFileError):
    """A schema file is wrong; says which file and where."""


def load_schema(path: Path) -> Schema:
    """One layout, checked: a syntax error is a YamlSyntaxError (file, line, column), any other
    fault a SchemaError listing each broken rule with its line."""
    try:
        return load_yaml(path, Schema)
    except YamlSyntaxError:
        raise
    except YamlFileError as exc:
        raise SchemaError(f"{path.name} : schéma invalide\n{exc}") from None


def schema_dirs(conventions_dir: Path | None = None) -> list[Path]:
    """Where the file designs are: the repository's ``schemas/``, plus the ``schemas/`` folder
    beside a conventions folder given with ``--conventions``, where a partner added outside the
    repository brings its own design (a new source is files alone)."""
    folders = [REPO_SCHEMAS]
    if conventions_dir is not None and (Path(conventions_dir) / "schemas").is_dir():
        folders.append(Path(conventions_dir) / "schemas")
    return folders


def load_schemas(directory: Path | Sequence[Path] = REPO_SCHEMAS) -> dict[str, Schema]:
    """All schemas of a folder (or of several), by id (``<convention>_<dataset>``)."""
    folders = [directory] if isinstance(directory, Path) else list(directory)
    schemas: dict[str, Schema] = {}
    for folder in folders:
        for path in sorted(Path(folder).glob("*.yaml")):
            schema = load_schema(path)
            if path.stem != schema.id:
                raise SchemaError(f"{path.name} : le fichier doit s'appeler {schema.id}.yaml")
            if schema.id in schemas:
                raise SchemaError(f"{path} : le schéma {schema.id} est déjà défini ailleurs")
            schemas[schema.id] = schema
    return schemas
