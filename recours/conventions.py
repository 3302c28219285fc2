"""Bilateral conventions as data: who may send what, how each field is treated, for how long.

A convention is the legal contract under which a partner delivers data to the Département. The
DPO reviews it as a YAML file under version control, and the pipeline obeys exactly that file:
a field it does not list is refused, a field it lists is pseudonymized, generalized, kept or
dropped as written, and two partners' data are crossed only where both files say so. Adding a
partner (MSA, a CCAS...) therefore needs a new YAML file, never new Python.

Everything a file gets wrong is reported at once, in French, with its file and line, because the
reader is a DPO or a data engineer fixing a file, not a Python developer reading a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, TextIO, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator

from recours.errors import RecoursError
from recours.schemas import (
    REPO_SCHEMAS,
    Column,
    Schema,
    SchemaError,
    load_schemas,
    schema_dirs,
)
from recours.yamlfile import Located, Vocabulary, YamlSyntaxError, build, check, parse_node

REPO_CONVENTIONS = Path(__file__).resolve().parent.parent / "conventions"
DEFAULT_DIR = REPO_CONVENTIONS  # the name app.cli uses
# The floor of every publication threshold (CASD, DGFiP): a convention may be stricter, never laxer.
PUBLICATION_FLOOR = 11
# The département's own file: every indicator's `connus` rows rest on it ("known to social
# services"), so no indicator lists it among its sources and every crossing may add it.
KNOWN_SOURCE = "cd31"

Category = Literal["direct_identifier", "quasi_identifier", "attribute", "free_text"]
Treatment = Literal["pseudonymize", "generalize", "keep", "drop", "redact"]
Pseudonym = Literal["pseudo_nir", "pseudo_traits", "pseudo_foyer", "pseudo_identifiant"]
Generalization = Literal["mois_naissance", "annee_naissance", "age", "tranche_age"]
Target = Literal[
    "pseudo_nir",
    "pseudo_traits",
    "pseudo_foyer",
    "pseudo_identifiant",
    "mois_naissance",
    "annee_naissance",
    "age",
    "tranche_age",
]
# What a recipient may receive. There is deliberately no person-level value: no convention can
# hand out individual data, pseudonymous or not.
Disclosure = Literal["agregats_publies", "audit_restreint"]

PSEUDONYMS: tuple[str, ...] = get_args(Pseudonym)
GENERALIZATIONS: tuple[str, ...] = get_args(Generalization)
# The pipeline builds pseudonyms from schema roles, never from partner column names: a column can
# feed a pseudonym only if its role is one that pseudonym is computed from.
ROLE_PSEUDONYM = {
    "nir": "pseudo_nir",
    "nom_naissance": "pseudo_traits",
    "nom_usage": "pseudo_traits",
    "prenoms": "pseudo_traits",
    "sexe": "pseudo_traits",
    "foyer": "pseudo_foyer",
    "identifiant_partenaire": "pseudo_identifiant",
}
# A role fixes the category: declaring a NIR an "attribute" must not open a way to keep it.
ROLE_CATEGORY = {
    "nir": "direct_identifier",
    "nom_naissance": "direct_identifier",
    "nom_usage": "direct_identifier",
    "prenoms": "direct_identifier",
    "foyer": "direct_identifier",
    "identifiant_partenaire": "direct_identifier",
    "date_naissance": "quasi_identifier",
    "sexe": "quasi_identifier",
    "commune": "quasi_identifier",
}

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
Text = Annotated[str, Field(min_length=1)]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
GdprArticle = Annotated[str, Field(pattern=r"^(6-1-[a-f]|9-2-[a-j])$")]
Days = Annotated[int, Strict(), Field(ge=0)]


class _Model(BaseModel):
    """Strict about unknown keys (a typo must not silently drop a rule), immutable once loaded."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True
    )


class Contact(_Model):
    name: Text
    email: Email


class Party(_Model):
    name: Text
    dpo: Contact


class Parties(_Model):
    provider: Party
    recipient: Party


class Purpose(_Model):
    id: Identifier
    label: Text


class GdprBasis(_Model):
    article: GdprArticle
    label: Text


class NationalText(_Model):
    reference: Text
    label: Text


class LegalBasis(_Model):
    gdpr: tuple[GdprBasis, ...] = Field(min_length=1)
    national: tuple[NationalText, ...] = Field(min_length=1)


class FieldRule(_Model):
    """How one column of a delivery is treated before it leaves ``landing/``."""

    category: Category
    treatment: Treatment
    # pseudonymize: the one pseudonym the column feeds; generalize: what is derived from it.
    to: tuple[Target, ...] = ()
    # generalize only: the full value also enters the keyed traits pseudonym (date of birth).
    traits: bool = Field(default=False, strict=True)
    motif: Text | None = None

    @field_validator("to", mode="before")
    @classmethod
    def _single_target_as_list(cls, value: Any) -> Any:
        """``to: pseudo_nir`` reads better than ``to: [pseudo_nir]`` for a single target."""
        return [value] if isinstance(value, str) else value

    @property
    def pseudonym(self) -> str | None:
        """The pseudonym this column feeds, when it is pseudonymized."""
        return self.to[0] if self.treatment == "pseudonymize" and self.to else None


class DatasetRule(_Model):
    """One dataset the partner delivers, with the treatment of every column of its schema."""

    schema_id: Identifier = Field(alias="schema")
    fields: dict[str, FieldRule] = Field(min_length=1)

    def names(self, treatment: str) -> list[str]:
        """Columns with that treatment, in the convention's order."""
        return [name for name, rule in self.fields.items() if rule.treatment == treatment]

    def output_columns(self) -> list[str]:
        """Columns of the pseudonymized Parquet: pseudonyms, generalizations, kept attributes."""
        outputs: list[str] = []
        for name, rule in self.fields.items():
            produced = (name,) if rule.treatment in ("keep", "redact") else rule.to
            outputs.extend(column for column in produced if column not in outputs)
        return outputs


class Retention(_Model):
    raw_days: Days
    pseudonymized_days: Days


class Crossing(_Model):
    convention: Identifier
    motif: Text | None = None


class Recipient(_Model):
    name: Text
    receives: Disclosure
    motif: Text | None = None


# --- what the GDPR Article 30 register needs beyond what the pipeline applies ------------------


class JointController(_Model):
    name: Text
    role: Text | None = None


class Transfer(_Model):
    destination: Text
    guarantees: Text


class ImpactAssessment(_Model):
    reference: Text
    approved_on: date | None = None


class Processor(_Model):
    name: Text
    service: Text
    location: Text | None = None


class Hosting(_Model):
    name: Text
    location: Text


class Objection(_Model):
    contact: Email
    procedure: Text


Texts = Annotated[tuple[Text, ...], Field(min_length=1)]

# The register entries a convention should fill, with the French label the DPO reads. They are
# optional in the model so that a file written before them still loads and the pipeline still
# runs; the check warns about each one left out and the register shows it as « non renseigné ».
# An empty list is an answer ("none"), a missing key is not.
REGISTER_KEYS: dict[str, str] = {
    "joint_controllers": "responsables conjoints du traitement",
    "data_subjects": "catégories de personnes concernées",
    "data_categories": "catégories de données",
    "transfers_outside_eu": "transferts hors de l'Union européenne",
    "security_measures": "mesures de sécurité",
    "impact_assessment": "analyse d'impact (AIPD)",
    "processors": "sous-traitants",
    "hosting": "hébergement",
    "information": "information des personnes",
    "objection": "droit d'opposition",
}


class Convention(_Model):
    """A bilateral convention, as the pipeline applies it."""

    id: Identifier
    title: Text
    parties: Parties
    purpose: Purpose
    legal_basis: LegalBasis
    signed_on: date
    valid_from: date
    valid_to: date
    datasets: tuple[DatasetRule, ...] = Field(min_length=1)
    retention: Retention
    publication_threshold: Annotated[int, Strict()]
    authorized_crossings: tuple[Crossing, ...]
    recipients: tuple[Recipient, ...] = Field(min_length=1)
    # Article 30 register (REGISTER_KEYS): None means "not filled in", never "none".
    joint_controllers: tuple[JointController, ...] | None = None
    data_subjects: Texts | None = None
    data_categories: Texts | None = None
    transfers_outside_eu: tuple[Transfer, ...] | None = None
    security_measures: Texts | None = None
    impact_assessment: ImpactAssessment | None = None
    processors: tuple[Processor, ...] | None = None
    hosting: Hosting | None = None
    information: Texts | None = None
    objection: Objection | None = None

    def missing_register_keys(self) -> list[str]:
        """The Article 30 entries this file leaves out, in REGISTER_KEYS order."""
        return [key for key in REGISTER_KEYS if getattr(self, key) is None]

    def in_force(self, on: date) -> bool:
        """True when ``on`` lies in the validity period, both ends included."""
        return self.valid_from <= on <= self.valid_to

    def why_not_in_force(self, on: date) -> str | None:
        """The reason, in French, a delivery or crossing dated ``on`` must be refused; else None."""
        if on < self.valid_from:
            start = self.valid_from
            return f"convention {self.id} pas encore en vigueur le {on} (à partir du {start})"
        if on > self.valid_to:
            return f"convention {self.id} expirée le {on} (valide jusqu'au {self.valid_to})"
        return None

    @property
    def schema_ids(self) -> list[str]:
        return [dataset.schema_id for dataset in self.datasets]

    def dataset(self, schema_id: str) -> DatasetRule:
        """The rules for one dataset; KeyError when this convention does not cover it."""
        for dataset in self.datasets:
            if dataset.schema_id == schema_id:
                return dataset
        raise KeyError(f"la convention {self.id} ne couvre pas le jeu de données {schema_id}")

    def field(self, schema_id: str, name: str) -> FieldRule:
        """The rule for one column; KeyError when the convention does not list it."""
        fields = self.dataset(schema_id).fields
        if name not in fields:
            raise KeyError(f"la convention {self.id} ne prévoit pas le champ {schema_id}.{name}")
        return fields[name]

    def treatment(self, schema_id: str, name: str) -> str:
        return self.field(schema_id, name).treatment

    def authorizes(self, other_id: str) -> bool:
        """Whether *this* file authorizes crossing with ``other_id`` (see crossing_authorized)."""
        return any(crossing.convention == other_id for crossing in self.authorized_crossings)

    @property
    def raw_retention(self) -> timedelta:
        return timedelta(days=self.retention.raw_days)

    @property
    def pseudonymized_retention(self) -> timedelta:
        return timedelta(days=self.retention.pseudonymized_days)

    def raw_purge_date(self, received_on: date) -> date:
        """First day on which a raw file received on ``received_on`` must be gone."""
        return received_on + self.raw_retention

    def pseudonymized_purge_date(self, ingested_on: date) -> date:
        """First day on which data pseudonymized on ``ingested_on`` must be gone."""
        return ingested_on + self.pseudonymized_retention


def crossing_authorized(a: Convention, b: Convention) -> bool:
    """Two partners' data may be crossed only when both conventions say so, for one purpose."""
    return a.authorizes(b.id) and b.authorizes(a.id) and a.purpose.id == b.purpose.id


def find_convention_for(conventions: dict[str, Convention], schema_id: str) -> Convention | None:
    """The convention under which a dataset is delivered, if any."""
    return next((c for c in conventions.values() if schema_id in c.schema_ids), None)


class ConventionProblem(NamedTuple):
    file: str
    line: int  # 1-based; 0 when the problem concerns no particular line (an empty folder)
    message: str  # in French, for the DPO

    def __str__(self) -> str:
        where = f"{self.file}, ligne {self.line}" if self.line else self.file
        return f"{where} : {self.message}"


class ConventionError(RecoursError):
    """One or more convention files are wrong; ``problems`` lists every one of them."""

    def __init__(self, problems: list[ConventionProblem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


# --- reading a file -----------------------------------------------------------------------------


@dataclass
class _Where:
    """Turns a path inside the YAML document into a located problem."""

    file: str
    located: Located | None = None

    def problem(self, message: str, *keys: str | int) -> ConventionProblem:
        line = self.located.line_of(*keys) if self.located is not None else 1
        return ConventionProblem(self.file, line, message)


@dataclass
class _Read:
    """What could be made of one file: the model if valid, and the id it claims in any case."""

    file: str
    claimed_id: str
    problems: list[ConventionProblem]
    located: Located | None = None
    convention: Convention | None = None


@dataclass(frozen=True)
class _Valid:
    """A file whose convention was built: the rules between files need its model."""

    file: str
    located: Located | None
    convention: Convention


def _read(path: Path) -> _Read:
    """Parse and type-check one file, collecting every problem instead of raising."""
    where, stem = _Where(path.name), path.stem
    try:
        node = parse_node(path)
    except UnicodeDecodeError:
        return _Read(path.name, stem, [where.problem("fichier illisible : encodage UTF-8 attendu")])
    except YamlSyntaxError as exc:
        return _Read(path.name, stem, [_syntax_problem(exc)])
    problems = list(_node_problems(node, path.name)) if node is not None else []
    try:
        located = build(path, node)
    except YamlSyntaxError as exc:
        return _Read(path.name, stem, problems or [_syntax_problem(exc)])
    except ValueError as exc:  # a value YAML cannot build, e.g. an impossible date
        return _Read(path.name, stem, problems or [where.problem(f"valeur illisible ({exc})")])
    result = _Read(path.name, _claimed_id(located.data, stem), problems, located)
    if located.data is None:
        result.problems.append(where.problem("fichier vide : une convention est attendue"))
        return result
    result.convention, found = check(located, Convention, _VOCABULARY)
    result.problems.extend(ConventionProblem(*problem) for problem in found)
    return result


def _claimed_id(data: Any, stem: str) -> str:
    """The id other files may refer to this one by, even when it is otherwise invalid."""
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        return data["id"]
    return stem


def _syntax_problem(exc: YamlSyntaxError) -> ConventionProblem:
    # the parser's own words, as this check has always printed them
    return ConventionProblem(exc.path.name, exc.line, f"YAML invalide ({exc.problem})")


def _node_problems(node: yaml.Node, file: str) -> Iterator[ConventionProblem]:
    """What a YAML loader silently accepts or cannot locate: duplicate keys, impossible dates.

    A duplicated key would let a second ``NIR:`` entry quietly override the first one.
    """
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            line = key.start_mark.line + 1
            if not isinstance(key, yaml.ScalarNode):  # a list as a key: pydantic will refuse it
                yield from _node_problems(value, file)
                continue
            if key.value in seen:
                yield ConventionProblem(
                    file,
                    line,
                    f"clé « {key.value} » en double (déjà ligne {seen[key.value]}) : "
                    "la seconde valeur remplacerait la première",
                )
            seen.setdefault(key.value, line)
            yield from _node_problems(value, file)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _node_problems(item, file)
    elif node.tag == "tag:yaml.org,2002:timestamp":
        try:
            yaml.constructor.SafeConstructor().construct_yaml_timestamp(node)
        except ValueError:
            yield ConventionProblem(
                file, node.start_mark.line + 1, f"date impossible : {node.value}"
            )


# --- pydantic errors, in this file's words (recours.yamlfile words them) --------------------------

_MISSING = {
    "id": "identifiant manquant",
    "title": "titre manquant",
    "parties": "parties manquantes",
    "provider": "partie qui transmet les données manquante",
    "recipient": "partie qui reçoit les données manquante",
    "name": "nom manquant",
    "dpo": "contact du DPO manquant",
    "email": "adresse électronique manquante",
    "purpose": "finalité manquante",
    "label": "libellé manquant",
    "legal_basis": "base légale manquante",
    "gdpr": "articles du RGPD manquants",
    "article": "article manquant",
    "national": "textes nationaux manquants",
    "reference": "référence du texte manquante",
    "signed_on": "date de signature manquante",
    "valid_from": "date de début de validité manquante",
    "valid_to": "date de fin de validité manquante",
    "datasets": "jeux de données manquants",
    "schema": "schéma manquant",
    "fields": "champs manquants",
    "category": "catégorie manquante",
    "treatment": "traitement manquant",
    "retention": "durées de conservation manquantes",
    "raw_days": "durée de conservation des fichiers bruts manquante",
    "pseudonymized_days": "durée de conservation des données pseudonymisées manquante",
    "publication_threshold": "seuil de publication manquant",
    "authorized_crossings": "croisements autorisés manquants",
    "convention": "convention croisée manquante",
    "recipients": "destinataires manquants",
    "receives": "objet reçu manquant",
    "destination": "pays ou organisation destinataire du transfert manquant",
    "guarantees": "garanties du transfert manquantes",
    "service": "service rendu par le sous-traitant manquant",
    "location": "lieu d'hébergement manquant",
    "contact": "adresse électronique pour exercer le droit d'opposition manquante",
    "procedure": "modalités d'exercice du droit d'opposition manquantes",
}
_FORMATS = {
    "id": "lettres minuscules, chiffres et _, en commençant par une lettre",
    "schema": "lettres minuscules, chiffres et _, en commençant par une lettre",
    "convention": "lettres minuscules, chiffres et _, en commençant par une lettre",
    "email": "adresse électronique",
    "contact": "adresse électronique",
    "article": "6-1-a à 6-1-f ou 9-2-a à 9-2-j",
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "category": get_args(Category),
    "treatment": get_args(Treatment),
    "to": get_args(Target),
    "receives": get_args(Disclosure),
}


_VOCABULARY = Vocabulary(missing=_MISSING, formats=_FORMATS, choices=_CHOICES)


# --- rules within one file ----------------------------------------------------------------------


def _file_problems(
    convention: Convention, where: _Where, stem: str, schemas: dict[str, Schema] | None
) -> list[ConventionProblem]:
    """Everything that can be checked on one valid file and the schemas."""
    problems = [
        *_identity_problems(convention, where, stem),
        *_date_problems(convention, where),
        *_threshold_problems(convention, where),
        *_legal_basis_problems(convention, where),
        *_own_crossing_problems(convention, where),
    ]
    if schemas is not None:
        problems.extend(_datasets_problems(convention, where, schemas))
    return problems


def _identity_problems(convention: Convention, where: _Where, stem: str) -> Iterator:
    if stem != convention.id:
        yield where.problem(
            f"le fichier s'appelle {stem}.yaml mais la convention a pour identifiant "
            f"{convention.id} : renommer le fichier en {convention.id}.yaml",
            "id",
        )


def _date_problems(convention: Convention, where: _Where) -> Iterator:
    start, end = convention.valid_from, convention.valid_to
    if end < start:
        yield where.problem(
            f"fin de validité ({end}) antérieure au début ({start})",
            "valid_to",
        )
    # An error, not a warning: data received before the signature had no legal basis, and a
    # convention cannot cover them after the fact. Start the validity on or after signature.
    if convention.signed_on > convention.valid_from:
        yield where.problem(
            f"signée le {convention.signed_on}, après le début de validité "
            f"({convention.valid_from}) : une convention ne vaut pas pour le passé",
            "signed_on",
        )


def _threshold_problems(convention: Convention, where: _Where) -> Iterator:
    # An error, not a warning: 11 is the floor of the disclosure rules (docs/regles.md).
    if convention.publication_threshold < PUBLICATION_FLOOR:
        yield where.problem(
            f"seuil de publication {convention.publication_threshold} inférieur au plancher "
            f"de {PUBLICATION_FLOOR}",
            "publication_threshold",
        )


def _legal_basis_problems(convention: Convention, where: _Where) -> Iterator:
    if not any(basis.article.startswith("6-1-") for basis in convention.legal_basis.gdpr):
        yield where.problem(
            "aucune base de licéité de l'article 6 du RGPD (6-1-a à 6-1-f)",
            "legal_basis",
            "gdpr",
        )


def _own_crossing_problems(convention: Convention, where: _Where) -> Iterator:
    seen: set[str] = set()
    for index, crossing in enumerate(convention.authorized_crossings):
        keys = ("authorized_crossings", index, "convention")
        if crossing.convention == convention.id:
            yield where.problem(
                f"une convention ne peut pas autoriser un croisement avec elle-même "
                f"({convention.id})",
                *keys,
            )
        elif crossing.convention in seen:
            yield where.problem(f"croisement avec {crossing.convention} déclaré deux fois", *keys)
        seen.add(crossing.convention)


def _datasets_problems(
    convention: Convention, where: _Where, schemas: dict[str, Schema]
) -> Iterator[ConventionProblem]:
    seen: set[str] = set()
    for index, dataset in enumerate(convention.datasets):
        keys = ("datasets", index)
        schema = schemas.get(dataset.schema_id)
        if dataset.schema_id in seen:
            yield where.problem(f"schéma {dataset.schema_id} déclaré deux fois", *keys, "schema")
            continue
        seen.add(dataset.schema_id)
        if schema is None:
            known = ", ".join(sorted(schemas)) or "aucun"
            yield where.problem(
                f"schéma inconnu : {dataset.schema_id} (schémas connus : {known})", *keys, "schema"
            )
            continue
        if schema.convention != convention.id:
            yield where.problem(
                f"le schéma {schema.id} relève de la convention {schema.convention}, "
                f"pas de {convention.id}",
                *keys,
                "schema",
            )
        yield from _coverage_problems(dataset, schema, where, keys)


def _coverage_problems(
    dataset: DatasetRule, schema: Schema, where: _Where, keys: tuple[str | int, ...]
) -> Iterator[ConventionProblem]:
    """Every column of the schema has exactly one rule, and every rule a column."""
    for name in schema.column_names:
        if name not in dataset.fields:
            yield where.problem(
                f"{schema.id} : champ {name} du schéma sans traitement", *keys, "fields"
            )
    for name, rule in dataset.fields.items():
        field_keys = (*keys, "fields", name)
        if name not in schema.column_names:
            yield where.problem(f"{schema.id} : champ {name} absent du schéma", *field_keys)
        else:
            label = f"{schema.id}.{name}"
            yield from _field_problems(rule, schema.column(name), label, where, field_keys)


def _field_problems(
    rule: FieldRule, column: Column, label: str, where: _Where, keys: tuple[str | int, ...]
) -> Iterator[ConventionProblem]:
    """The design's invariants for one column (docs/architecture.md, invariant 1)."""
    expected = "free_text" if column.type == "text" else ROLE_CATEGORY.get(column.role or "")
    if expected is not None and rule.category != expected:
        reason = "texte libre" if column.type == "text" else f"rôle {column.role}"
        yield where.problem(
            f"{label} : catégorie {rule.category} incohérente avec le schéma "
            f"({reason} : {expected} attendu)",
            *keys,
            "category",
        )
    if rule.category == "direct_identifier" and rule.treatment == "keep":
        yield where.problem(
            f"{label} : un identifiant direct ne peut pas être conservé (keep) ; "
            "pseudonymize ou drop",
            *keys,
            "treatment",
        )
    if rule.category == "free_text" and rule.treatment == "keep":
        yield where.problem(
            f"{label} : un texte libre ne peut pas être conservé tel quel (keep) ; drop ou redact",
            *keys,
            "treatment",
        )
    if rule.treatment == "redact" and rule.category != "free_text":
        yield where.problem(
            f"{label} : redact ne s'applique qu'à un texte libre (free_text)", *keys, "treatment"
        )
    yield from _target_problems(rule, column, label, where, keys)


def _target_problems(
    rule: FieldRule, column: Column, label: str, where: _Where, keys: tuple[str | int, ...]
) -> Iterator[ConventionProblem]:
    """``to`` and ``traits`` must say something the pipeline can compute from the column."""
    to_keys = (*keys, "to")
    if rule.treatment == "pseudonymize":
        yield from _pseudonym_problems(rule, column, label, where, to_keys)
    elif rule.treatment == "generalize":
        if column.type != "date":
            yield where.problem(
                f"{label} : generalize ne s'applique qu'à une date (colonne de type {column.type})",
                *keys,
                "treatment",
            )
        if not rule.to or any(target not in GENERALIZATIONS for target in rule.to):
            yield where.problem(
                f"{label} : generalize demande dans to une ou plusieurs généralisations "
                f"({', '.join(GENERALIZATIONS)})",
                *to_keys,
            )
    elif rule.to:
        yield where.problem(
            f"{label} : to n'a de sens qu'avec pseudonymize ou generalize", *to_keys
        )
    if rule.traits and not (rule.treatment == "generalize" and column.role == "date_naissance"):
        yield where.problem(
            f"{label} : traits ne s'applique qu'à la date de naissance généralisée",
            *keys,
            "traits",
        )


def _pseudonym_problems(
    rule: FieldRule, column: Column, label: str, where: _Where, to_keys: tuple[str | int, ...]
) -> Iterator[ConventionProblem]:
    if len(rule.to) != 1 or rule.to[0] not in PSEUDONYMS:
        yield where.problem(
            f"{label} : pseudonymize demande dans to un seul pseudonyme ({', '.join(PSEUDONYMS)})",
            *to_keys,
        )
        return
    expected = ROLE_PSEUDONYM.get(column.role or "")
    if column.role is None:
        yield where.problem(
            f"{label} : colonne sans rôle d'identité dans le schéma, "
            "elle ne peut pas être pseudonymisée",
            *to_keys,
        )
    elif expected is None:
        yield where.problem(
            f"{label} : une colonne de rôle {column.role} ne peut pas être pseudonymisée",
            *to_keys,
        )
    elif rule.to[0] != expected:
        yield where.problem(
            f"{label} : une colonne de rôle {column.role} alimente {expected}, pas {rule.to[0]}",
            *to_keys,
        )


# --- rules between files ------------------------------------------------------------------------


def _cross_problems(reads: list[_Read]) -> Iterator[ConventionProblem]:
    """Duplicate ids, datasets claimed twice, and crossings both sides must authorize."""
    valid = [
        _Valid(read.file, read.located, read.convention)
        for read in reads
        if read.convention is not None
    ]
    yield from _duplicate_id_problems(valid)
    yield from _shared_dataset_problems(valid)
    by_id: dict[str, _Valid] = {}
    for read in valid:
        by_id.setdefault(read.convention.id, read)
    claimed = {read.claimed_id for read in reads}
    for read in valid:
        yield from _crossing_problems(read, by_id, claimed)


def _duplicate_id_problems(valid: list[_Valid]) -> Iterator[ConventionProblem]:
    files: dict[str, list[str]] = defaultdict(list)
    for read in valid:
        files[read.convention.id].append(read.file)
    for read in valid:
        others = [file for file in files[read.convention.id] if file != read.file]
        if others:
            yield _Where(read.file, read.located).problem(
                f"identifiant {read.convention.id} en double : aussi utilisé par "
                f"{', '.join(others)}",
                "id",
            )


def _shared_dataset_problems(valid: list[_Valid]) -> Iterator[ConventionProblem]:
    """A dataset under two conventions would make its legal basis ambiguous."""
    files: dict[str, list[str]] = defaultdict(list)
    for read in valid:
        for schema_id in dict.fromkeys(read.convention.schema_ids):
            files[schema_id].append(read.file)
    for read in valid:
        for index, dataset in enumerate(read.convention.datasets):
            others = [file for file in files[dataset.schema_id] if file != read.file]
            if others:
                yield _Where(read.file, read.located).problem(
                    f"le jeu de données {dataset.schema_id} est aussi déclaré par "
                    f"{', '.join(others)}",
                    "datasets",
                    index,
                    "schema",
                )


def _crossing_problems(
    read: _Valid, by_id: dict[str, _Valid], claimed: set[str]
) -> Iterator[ConventionProblem]:
    convention = read.convention
    where = _Where(read.file, read.located)
    for index, crossing in enumerate(convention.authorized_crossings):
        other_id = crossing.convention
        keys = ("authorized_crossings", index, "convention")
        other = by_id.get(other_id)
        if other_id == convention.id:
            continue  # reported with the file's own problems
        if other is None:
            if other_id not in claimed:  # an invalid file reports its own problems
                yield where.problem(
                    f"croisement avec {other_id} : aucune convention ne porte cet identifiant",
                    *keys,
                )
        elif not other.convention.authorizes(convention.id):
            yield where.problem(
                f"croisement avec {other_id} autorisé ici mais pas par {other.file} : "
                "les deux conventions doivent l'autoriser",
                *keys,
            )
        elif other.convention.purpose.id != convention.purpose.id:
            yield where.problem(
                f"croisement avec {other_id} : finalités différentes ({convention.purpose.id} "
                f"ici, {other.convention.purpose.id} dans {other.file})",
                *keys,
            )


# --- public entry points ------------------------------------------------------------------------


def _load_schemas(
    schemas_dir: Path | list[Path] | None,
) -> tuple[dict[str, Schema] | None, list[ConventionProblem]]:
    """The schemas, or a problem saying why they could not be read (dataset checks then skip)."""
    directory = schemas_dir if schemas_dir is not None else REPO_SCHEMAS
    try:
        return load_schemas(directory), []
    except YamlSyntaxError as exc:
        return None, [ConventionProblem(exc.path.name, exc.line, "schéma illisible")]
    except (SchemaError, OSError) as exc:
        name = directory.name if isinstance(directory, Path) else "schemas"
        return None, [ConventionProblem(name, 0, f"schémas illisibles : {exc}")]


def _check_all(
    directory: Path, schemas_dir: Path | list[Path] | None
) -> tuple[list[_Read], list[ConventionProblem]]:
    # a folder given with --conventions may bring the designs of its own partners (schemas/)
    schemas, problems = _load_schemas(
        schemas_dir if schemas_dir is not None else schema_dirs(directory)
    )
    paths = sorted(directory.glob("*.yaml"))
    if not directory.is_dir():
        problems.append(ConventionProblem(directory.name, 0, "dossier des conventions introuvable"))
    elif not paths:
        problems.append(
            ConventionProblem(directory.name, 0, "aucune convention (fichier .yaml) trouvée")
        )
    reads = [_read(path) for path in paths]
    for read, path in zip(reads, paths, strict=True):
        problems.extend(read.problems)
        if read.convention is not None:
            where = _Where(read.file, read.located)
            problems.extend(_file_problems(read.convention, where, path.stem, schemas))
    problems.extend(_cross_problems(reads))
    return reads, _sorted(problems)


def _sorted(problems: Iterable[ConventionProblem]) -> list[ConventionProblem]:
    """By file then line, keeping the order of discovery within a line."""
    return sorted(problems, key=lambda problem: (problem.file, problem.line))


def check_conventions(directory: Path, schemas_dir: Path | None = None) -> list[ConventionProblem]:
    """Every problem of every convention file in ``directory``; never stops at the first."""
    return _check_all(directory, schemas_dir)[1]


def _register_warnings(reads: list[_Read]) -> list[ConventionProblem]:
    """An incomplete register is the DPO's to fix, not a reason to stop the pipeline: warn."""
    warnings = []
    for read in reads:
        if read.convention is None:
            continue
        where = _Where(read.file, read.located)
        for key in read.convention.missing_register_keys():
            warnings.append(
                where.problem(
                    f"avertissement : registre de l'article 30 incomplet, "
                    f"« {REGISTER_KEYS[key]} » non renseigné ({key}) : ajouter la clé {key} "
                    "à la convention (voir conventions/README.md)",
                    key,
                )
            )
    return _sorted(warnings)


def check_with_warnings(
    directory: Path, schemas_dir: Path | None = None
) -> tuple[list[ConventionProblem], list[ConventionProblem]]:
    """(problems, warnings): problems stop the pipeline, warnings only ask for a completion."""
    reads, problems = _check_all(directory, schemas_dir)
    return problems, _register_warnings(reads)


def load_convention(path: Path, schemas_dir: Path | None = None) -> Convention:
    """One convention, checked on its own and against the schemas (not against other files)."""
    read = _read(path)
    problems = list(read.problems)
    if read.convention is not None:
        schemas, schema_problems = _load_schemas(schemas_dir)
        where = _Where(read.file, read.located)
        problems += schema_problems + _file_problems(read.convention, where, path.stem, schemas)
    if problems:
        raise ConventionError(_sorted(problems))
    assert read.convention is not None
    return read.convention


def load_conventions(
    directory: Path | None = None, schemas_dir: Path | None = None
) -> dict[str, Convention]:
    """Every convention of a folder, by id; ConventionError lists every problem if any."""
    reads, problems = _check_all(directory or REPO_CONVENTIONS, schemas_dir)
    if problems:
        raise ConventionError(problems)
    return {read.convention.id: read.convention for read in reads if read.convention}


def run_check(
    directory: Path | None = None, schemas_dir: Path | None = None, out: TextIO = sys.stdout
) -> int:
    """``recours conventions check [DIR]``: print every problem, then every warning; exit
    status 1 if any problem (warnings alone leave it at 0)."""
    directory = directory or REPO_CONVENTIONS
    reads, problems = _check_all(directory, schemas_dir)
    warnings = _register_warnings(reads)
    for problem in [*problems, *warnings]:
        print(problem, file=out)
    also = f" ; {len(warnings)} avertissement(s)" if warnings else ""
    if problems:
        print(f"{len(problems)} problème(s) dans {directory}{also}", file=out)
        return 1
    ids = ", ".join(read.convention.id for read in reads if read.convention)
    print(f"{len(reads)} convention(s) valide(s) dans {directory} : {ids}{also}", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m recours.conventions check [DIR]``, until the ``recours`` CLI wires it in."""
    parser = argparse.ArgumentParser(prog="recours conventions")
    parser.add_argument("command", choices=["check"])
    parser.add_argument("directory", nargs="?", type=Path, default=None)
    parser.add_argument("--schemas", type=Path, default=None)
    args = parser.parse_args(argv)
    return run_check(args.directory, args.schemas)


if __name__ == "__main__":
    sys.exit(main())
