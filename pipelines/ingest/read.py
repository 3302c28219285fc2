"""The one schema-driven reader: any partner file, as strings, with its line numbers.

Everything a partner can get wrong about the *file* (encoding, emptiness, columns, a cut-off
last line, a missing sheet) is a delivery-level refusal raised here, with the file, line and
column. What is wrong inside a *row* is left to validation. Values are returned as strings,
untyped, trimmed; ``_ligne`` is the physical line (or Excel row) where each record starts, so
that every later message can point at the raw file without quoting it.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from pathlib import Path

import polars as pl

from recours.errors import DeliveryRefused
from recours.schemas import Schema

LINE = "_ligne"
ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 avec BOM",
    "cp1252": "Windows-1252",
    "latin-1": "ISO-8859-1 (Latin-1)",
}


def read_delivery(path: Path, schema: Schema) -> pl.DataFrame:
    """Every schema column (plus any extra column the partner sent) as String, and ``_ligne``."""
    frame = _read_xlsx(path, schema) if schema.format == "xlsx" else _read_csv(path, schema)
    if frame.height == 0:
        raise DeliveryRefused(
            "fichier_sans_donnees",
            f"{path.name} : le fichier ne contient que la ligne d'en-tête, aucune donnée",
        )
    return frame


def _raw_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            raise DeliveryRefused(
                "gzip_illisible", f"{path.name} : archive gzip illisible ou tronquée"
            ) from None
    if not data.strip():
        raise DeliveryRefused("fichier_vide", f"{path.name} : fichier vide ({len(data)} octet(s))")
    return data


def _decode(path: Path, data: bytes, encoding: str) -> str:
    announced = ENCODING_NAMES[encoding]
    if encoding in ("cp1252", "latin-1") and not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:  # valid UTF-8 with accents: decoding as announced would write mojibake
            raise DeliveryRefused(
                "encodage",
                f"{path.name} : le fichier est encodé en UTF-8 alors que la convention annonce "
                f"{announced} ; demander au partenaire un fichier conforme au dessin",
            )
    python_codec = "utf-8-sig" if encoding.startswith("utf-8") else encoding
    try:
        return data.decode(python_codec)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DeliveryRefused(
            "encodage",
            f"{path.name}, ligne {line} : octets illisibles en {announced} (encodage annoncé) ; "
            "le fichier est probablement dans un autre encodage",
            line=line,
        ) from None


def _read_csv(path: Path, schema: Schema) -> pl.DataFrame:
    text = _decode(path, _raw_bytes(path), schema.encoding).replace("\r\n", "\n")
    dialect = {
        "delimiter": schema.separator,
        "quotechar": schema.quote or '"',
        "quoting": csv.QUOTE_MINIMAL if schema.quote else csv.QUOTE_NONE,
        "strict": False,
    }
    header, starts, widths = _structure(text, dialect)
    header = [name.strip() for name in header]
    _check_header(path, schema, header)
    expected = len(header)
    last = len(widths) - 1
    if last >= 0 and widths[last] < expected and not text.endswith("\n"):
        raise DeliveryRefused(
            "fichier_tronque",
            f"{path.name}, ligne {starts[last]} : dernière ligne incomplète ({widths[last]} "
            f"champ(s) au lieu de {expected}, sans fin de ligne) ; le transfert a été coupé, "
            "demander une nouvelle livraison",
            line=starts[last],
        )
    frame = pl.read_csv(
        io.BytesIO(text.encode("utf-8")),
        separator=schema.separator,
        quote_char=schema.quote,
        has_header=True,
        infer_schema=False,
        truncate_ragged_lines=True,
        empty_string_is_null=False,
    )
    if frame.height != len(starts):
        raise DeliveryRefused(
            "structure",
            f"{path.name} : structure du fichier incohérente ({frame.height} lignes lues "
            f"contre {len(starts)} enregistrements comptés) ; vérifier les guillemets",
        )
    frame.columns = header
    return _finish(frame, schema, starts, widths, expected)


def _structure(text: str, dialect: dict) -> tuple[list[str], list[int], list[int]]:
    """Header, start line and field count of each record (quotes may span lines)."""
    reader = csv.reader(io.StringIO(text), **dialect)
    header = next(reader, [])
    starts: list[int] = []
    widths: list[int] = []
    previous = reader.line_num
    for record in reader:
        if record:  # a blank line is no record
            starts.append(previous + 1)
            widths.append(len(record))
        previous = reader.line_num
    return header, starts, widths


def _check_header(path: Path, schema: Schema, header: list[str]) -> None:
    if not any(header):
        raise DeliveryRefused("en_tete", f"{path.name}, ligne 1 : ligne d'en-tête absente", line=1)
    missing = [name for name in schema.column_names if name not in header]
    if missing:
        extra = [name for name in header if name not in schema.column_names]
        hint = f" ; colonnes inattendues : {', '.join(extra)}" if extra else ""
        raise DeliveryRefused(
            "colonne_manquante",
            f"{path.name}, ligne 1 : colonne(s) obligatoire(s) absente(s) de l'en-tête : "
            f"{', '.join(missing)}{hint}",
            line=1,
            column=missing[0],
        )
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise DeliveryRefused(
            "en_tete",
            f"{path.name}, ligne 1 : colonne(s) en double dans l'en-tête : {', '.join(duplicated)}",
            line=1,
        )


def _finish(
    frame: pl.DataFrame, schema: Schema, starts: list[int], widths: list[int], expected: int
) -> pl.DataFrame:
    text_columns = [c for c in frame.columns]
    return frame.with_columns(
        [pl.col(c).str.strip_chars() for c in text_columns]
        + [
            pl.Series(LINE, starts, dtype=pl.Int64),
            pl.Series("_champs", widths, dtype=pl.Int32) - expected,
        ]
    )


def _read_xlsx(path: Path, schema: Schema) -> pl.DataFrame:
    import fastexcel

    if path.stat().st_size == 0:
        raise DeliveryRefused("fichier_vide", f"{path.name} : fichier vide (0 octet)")
    try:
        workbook = fastexcel.read_excel(path)
    except Exception:  # calamine says why in English, with no personal data
        raise DeliveryRefused(
            "classeur_illisible", f"{path.name} : classeur Excel illisible ou corrompu"
        ) from None
    if schema.sheet not in workbook.sheet_names:
        raise DeliveryRefused(
            "feuille_absente",
            f"{path.name} : feuille « {schema.sheet} » absente du classeur (feuilles présentes : "
            f"{', '.join(workbook.sheet_names)})",
        )
    sheet = workbook.load_sheet_by_name(schema.sheet, dtypes="string")
    frame = sheet.to_polars()
    header = [str(name).strip() for name in frame.columns]
    _check_header(path, schema, header)
    frame.columns = header
    frame = frame.with_columns(pl.all().cast(pl.String))
    # Excel dates arrive as "AAAA-MM-JJ 00:00:00": keep the day, as the schema's ISO form.
    dates = [c.name for c in schema.columns if c.date_format == "excel"]
    frame = frame.with_columns(
        [pl.col(c).str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]00:00:00(\.0+)?$", "$1") for c in dates]
    )
    frame = frame.with_columns(pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias(LINE))
    empty = pl.all_horizontal(
        [pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in header]
    )
    frame = frame.filter(~empty)
    return frame.with_columns(
        [pl.col(c).str.strip_chars() for c in header] + [pl.lit(0, dtype=pl.Int32).alias("_champs")]
    )
