"""Minimisation: keep only what the convention authorizes, in the form it authorizes.

The treatments come from the convention (``pseudonymize``, ``generalize``, ``keep``, ``drop``);
what a column *means* comes from the schema's roles. Nothing else leaves: a column that is not
explicitly authorized is dropped, whatever the partner sent. Dates of birth become what the
indicators need (month of birth, age at the end of the extraction month); identity traits and
the NIR become keyed pseudonyms.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl
import pyarrow as pa

from anonymization import identity, nir
from anonymization.pseudonymize import Pseudonymizer
from recours.errors import RecoursError
from recours.reference import DEPARTEMENT
from recours.schemas import Column, Schema

TRAIT_ROLES = {"nom_naissance", "nom_usage", "prenoms", "sexe", "date_naissance"}
PSEUDONYM_COLUMNS = {
    "nir": "pseudo_nir",
    "foyer": "pseudo_foyer",
    "identifiant_partenaire": "pseudo_identifiant",
}


class TreatmentError(RecoursError):
    """A convention asks for a treatment the pipeline cannot apply safely to that column."""


@dataclass(frozen=True)
class Minimised:
    frame: pl.DataFrame
    dropped: tuple[str, ...]  # schema columns dropped by the convention
    unauthorized: tuple[str, ...]  # columns the partner sent that no convention mentions


def end_of_month(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def birth_parts(column: Column) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Year, month, day of a date of birth; an unknown (``00``) month or day counts as 1."""
    raw = pl.col(column.name)
    if column.date_format == "JJ/MM/AAAA":
        y, m, d = raw.str.slice(6, 4), raw.str.slice(3, 2), raw.str.slice(0, 2)
    elif column.date_format == "AAAAMMJJ":
        y, m, d = raw.str.slice(0, 4), raw.str.slice(4, 2), raw.str.slice(6, 2)
    else:  # AAAA-MM-JJ and Excel dates (read as ISO)
        y, m, d = raw.str.slice(0, 4), raw.str.slice(5, 2), raw.str.slice(8, 2)

    def as_int(part: pl.Expr) -> pl.Expr:
        value = part.cast(pl.Int32, strict=False)
        return pl.when(value == 0).then(1).otherwise(value)

    return y.cast(pl.Int32, strict=False), as_int(m), as_int(d)


def typed(column: Column, decimal_mark: str) -> pl.Expr:
    raw = pl.col(column.name)
    empty = raw.is_null() | (raw == "")
    if column.type == "integer":
        value = raw.cast(pl.Int64, strict=False)
    elif column.type == "decimal":
        text = raw.str.replace(",", ".", literal=True) if decimal_mark == "," else raw
        value = text.str.to_decimal(scale=2).cast(pl.Decimal(18, 2))
    elif column.type == "date":
        value = raw.str.to_date(column.strftime, strict=False)
    else:
        value = raw
    return pl.when(~empty).then(value).alias(column.name)


def minimise(
    raw: pl.DataFrame,
    schema: Schema,
    treatments: Mapping[str, str],
    extraction: date,
    pseudonymizer: Pseudonymizer,
) -> Minimised:
    """The pseudonymized frame: ``ligne_source`` plus only what ``treatments`` authorizes."""
    reference = end_of_month(extraction)
    outputs: list[pl.Expr | pl.Series] = [pl.col("_ligne").alias("ligne_source")]
    pseudonyms: dict[str, pl.Expr] = {}
    traits: dict[str, Column] = {}
    for column in schema.columns:
        treatment = treatments.get(column.name, "drop")
        if treatment == "drop":
            continue
        if column.role in TRAIT_ROLES:
            traits[column.role] = column
        if treatment == "pseudonymize":
            if column.role == "nir":
                status = nir.status(pl.col(column.name))
                usable = status.is_in([nir.VALID, nir.TEMPORARY])
                outputs.append(status.alias("nir_statut"))
                pseudonyms["pseudo_nir"] = pl.when(usable).then(nir.normalize(pl.col(column.name)))
            elif column.role in PSEUDONYM_COLUMNS:
                pseudonyms[PSEUDONYM_COLUMNS[column.role]] = pl.col(column.name)
            elif column.role not in TRAIT_ROLES:
                raise TreatmentError(
                    f"{schema.id} : la colonne {column.name} n'a pas de rôle qui permette de la "
                    "pseudonymiser (rôle attendu : nir, foyer, identifiant_partenaire ou un "
                    "trait d'identité)"
                )
        elif treatment == "generalize":
            if column.role != "date_naissance":
                raise TreatmentError(
                    f"{schema.id} : seule une date de naissance peut être généralisée "
                    f"(colonne {column.name})"
                )
            year, month, _ = birth_parts(column)
            outputs.append(
                pl.format("{}-{}", year, month.cast(pl.String).str.zfill(2)).alias("mois_naissance")
            )
            # Completed years at the end of the month: a birthday falls within its own month.
            age = reference.year - year - (month > reference.month).cast(pl.Int32)
            outputs.append(age.cast(pl.Int16).alias("age"))
        elif treatment == "keep":
            if column.role in TRAIT_ROLES - {"sexe"} or column.role in PSEUDONYM_COLUMNS:
                raise TreatmentError(
                    f"{schema.id} : la colonne {column.name} est un identifiant direct ; elle ne "
                    "peut pas être conservée en clair"
                )
            outputs.append(typed(column, schema.decimal))
            if column.type == "commune":
                outputs.append(
                    (~pl.col(column.name).str.starts_with(DEPARTEMENT)).alias("hors_departement")
                )
        elif treatment == "redact":
            from anonymization.pii_scan import redact_texts

            redacted = redact_texts(raw[column.name].to_list())
            outputs.append(pl.Series(column.name, redacted, dtype=pl.String).alias(column.name))
        else:
            raise TreatmentError(f"{schema.id} : traitement inconnu « {treatment} »")

    commune = next(
        (c for c in schema.columns if c.role == "commune" and treatments.get(c.name) == "keep"),
        None,
    )
    normal, keys = _identity_keys(traits, commune)
    pseudonyms.update(keys)
    frame = raw.with_columns(**normal).select(
        outputs + [expr.alias(name) for name, expr in pseudonyms.items()]
    )
    for name, domain in (
        ("pseudo_nir", "nir"),
        ("pseudo_foyer", f"foyer/{schema.convention}"),
        ("pseudo_identifiant", f"identifiant/{schema.convention}"),
    ):
        if name in frame.columns:
            frame = frame.with_columns(pseudonymizer.pseudonyms(frame[name], domain))
    if "cles_appariement" in frame.columns:
        hashed = hash_keys(frame["cles_appariement"], pseudonymizer)
        # The traits pseudonym is the first t1 key (birth name, else usage name): hashed once.
        first = hashed.list.first()
        pseudo_traits = pl.when(first.str.starts_with("t1:")).then(first.str.slice(3))
        frame = frame.with_columns(
            hashed, pl.select(pseudo_traits.alias("pseudo_traits")).to_series()
        )
    dropped = tuple(c.name for c in schema.columns if treatments.get(c.name, "drop") == "drop")
    unauthorized = tuple(c for c in raw.columns if c not in schema.column_names and c[0] != "_")
    return Minimised(frame=frame, dropped=dropped, unauthorized=unauthorized)


def _identity_keys(
    traits: dict[str, Column], commune: Column | None
) -> tuple[dict[str, pl.Expr], dict[str, pl.Expr]]:
    """Clear-text identity keys, hashed by the caller before anything is written.

    ``pseudo_traits`` is (name, first given name, date of birth, sex). ``cles_appariement``
    holds the keys of the linkage passes (``docs/appariement.md``), each a list because a
    person known under a birth name and a usage name has a key under each:
    ``t1`` name + given name + birth date + sex, ``t2`` given name + birth date + sex +
    commune (for a changed surname), ``t3`` name + birth date + sex (for a given name spelt
    otherwise). Every key combines several traits: no single-trait token, whose frequencies
    would give away the surname distribution, is ever made.
    """
    birth_name, usage_name = traits.get("nom_naissance"), traits.get("nom_usage")
    given, birth, sex = traits.get("prenoms"), traits.get("date_naissance"), traits.get("sexe")
    name = birth_name or usage_name
    if not (name and given and birth and sex):
        return {}, {}
    year, month, day = birth_parts(birth)
    # Each normal form is computed once (eager polars does not share sub-expressions).
    normal = pl.struct(
        pl.format(
            "{}-{}-{}",
            year,
            month.cast(pl.String).str.zfill(2),
            day.cast(pl.String).str.zfill(2),
        ).alias("naissance"),
        pl.col(sex.name).replace_strict(sex.sex_codes or {}, default=None).alias("sexe"),
        identity.first_given_name(pl.col(given.name)).alias("prenom"),
        *[
            identity.surname(pl.col(c.name)).alias(f"nom{i}")
            for i, c in enumerate(c for c in (birth_name, usage_name) if c is not None)
        ],
        *([pl.col(commune.name).alias("commune")] if commune is not None else []),
    )
    names = [f"nom{i}" for i, c in enumerate(c for c in (birth_name, usage_name) if c)]

    def key(passe: str, *fields: str) -> pl.Expr:
        return pl.concat_str(
            [pl.lit(passe), *(pl.col("_n").struct.field(f) for f in fields)], separator="|"
        )

    def variants(passe: str, *fields: str) -> list[pl.Expr]:
        """One key per name; the usage name's only where it differs from the birth name."""
        made = [key(passe, names[0], *fields)]
        if len(names) == 2:
            field = pl.col("_n").struct.field
            differs = field(names[1]).ne_missing(field(names[0]))
            made.append(pl.when(differs).then(key(passe, names[1], *fields)))
        return made

    keys = variants("t1", "prenom", "naissance", "sexe")
    if commune is not None:
        keys.append(key("t2", "prenom", "naissance", "sexe", "commune"))
    keys += variants("t3", "naissance", "sexe")
    return {"_n": normal}, {
        "pseudo_traits": pl.lit(None, dtype=pl.String),  # filled from the first t1 key
        "cles_appariement": pl.concat_list(keys).list.drop_nulls(),
    }


def hash_keys(keys: pl.Series, pseudonymizer: Pseudonymizer) -> pl.Series:
    """Each ``pass|traits`` string of a list column becomes ``pass:pseudonym``.

    The lists are rebuilt from their Arrow offsets around the hashed flat values: no explode
    and group-by over millions of keys.
    """
    array = keys.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    flat = pl.Series("cle", array.values, dtype=pl.String)
    passe = flat.str.split("|").list.first()
    hashed = passe + ":" + pseudonymizer.pseudonyms(flat, "appariement")
    rebuilt = type(array).from_arrays(array.offsets, hashed.to_arrow(), mask=array.is_null())
    return pl.Series(keys.name, rebuilt, dtype=pl.List(pl.String))
