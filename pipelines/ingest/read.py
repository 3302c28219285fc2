"""The one schema-driven reader: any partner file, as strings, with its line numbers.

Everything a partner can get wrong about the *file* (encoding, emptiness, columns, a cut-off
last line, a missing sheet) is a delivery-level refusal raised here, with the file, line and
column. What is wrong inside a *row* is left to validation. Values are returned as strings,
untyped, trimmed; ``_ligne`` is the physical line (or Excel row) where each record starts, so
that every later message can point at the raw file without quoting it.
"""

from __future__ import annotations

import codecs
import csv
import gc
import gzip
import io
import re
import zlib
from pathlib import Path
from typing import Literal, TypedDict

import polars as pl

from recours.errors import DeliveryRefused
from recours.schemas import Schema

LINE = "_ligne"
BLOCK_ROWS = 100_000
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
    if not data.removeprefix(codecs.BOM_UTF8).strip():
        raise DeliveryRefused("fichier_vide", f"{path.name} : fichier vide ({len(data)} octet(s))")
    return data


def _position(path: Path, data: bytes, offset: int) -> tuple[int, str]:
    """The line of byte ``offset`` and where it is, said without the bytes themselves: the
    data team finds it with ``xxd -s`` or an editor, the message never quotes the file.

    Line and positions count from 1; in a ``.gz`` they are those of the decompressed text.
    """
    line = data.count(b"\n", 0, offset) + 1
    in_line = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    whole = "du contenu décompressé" if path.name.endswith(".gz") else "du fichier"
    return line, f"octet {in_line} de la ligne, octet {offset + 1} {whole}"


def _decode(path: Path, data: bytes, encoding: str) -> str:
    announced = ENCODING_NAMES[encoding]
    if encoding in ("cp1252", "latin-1") and not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:  # valid UTF-8 with accents: decoding as announced would write mojibake
            first = re.search(rb"[\x80-\xff]", data)
            assert first is not None  # not ASCII
            line, where = _position(path, data, first.start())
            raise DeliveryRefused(
                "encodage",
                f"{path.name} : le fichier est encodé en UTF-8 alors que la convention annonce "
                f"{announced} (premier caractère concerné : ligne {line}, {where}) ; demander "
                "au partenaire un fichier conforme au dessin",
            )
    if encoding == "latin-1":
        # Latin-1 decodes any byte; 0x80–0x9F are control codes no text holds, and the mark
        # of a Windows-1252 file (’ « € …) sent as Latin-1.
        control = re.search(rb"[\x80-\x9f]", data)
        if control is not None:
            line, where = _position(path, data, control.start())
            raise DeliveryRefused(
                "encodage",
                f"{path.name}, ligne {line} : caractère de contrôle impossible en {announced} "
                f"(encodage annoncé), {where} ; le fichier est probablement en Windows-1252",
                line=line,
            )
    python_codec = "utf-8-sig" if encoding.startswith("utf-8") else encoding
    try:
        return data.decode(python_codec)
    except UnicodeDecodeError as exc:
        # utf-8-sig reports positions in the text after its byte-order mark
        skipped = len(data) - len(exc.object)
        line, where = _position(path, data, exc.start + skipped)
        raise DeliveryRefused(
            "encodage",
            f"{path.name}, ligne {line} : octets illisibles en {announced} (encodage annoncé), "
            f"{where} ; le fichier est probablement dans un autre encodage",
            line=line,
        ) from None


class _Dialect(TypedDict):
    """The csv module's dialect keywords for one schema, typed so each call checks them."""

    delimiter: str
    quotechar: str
    quoting: Literal[0, 3]  # csv.QUOTE_MINIMAL or csv.QUOTE_NONE


def _read_csv(path: Path, schema: Schema) -> pl.DataFrame:
    text = _decode(path, _raw_bytes(path), schema.encoding).replace("\r\n", "\n")
    dialect: _Dialect = {
        "delimiter": schema.separator,
        "quotechar": schema.quote or '"',
        "quoting": csv.QUOTE_MINIMAL if schema.quote else csv.QUOTE_NONE,
    }
    reader = csv.reader(io.StringIO(text), **dialect, strict=False)
    header = [name.strip() for name in next(reader, [])]
    _check_header(path, schema, header)
    if schema.quote is None or schema.quote not in text:
        frame = _read_unquoted(text, schema.separator, header)
    else:
        frame = _read_quoted(reader, header)
    if frame.height and not text.endswith("\n"):
        last = frame.tail(1)
        _check_last_record(
            path, text, dialect, last[LINE].item(), last["_champs"].item(), len(header)
        )
    return frame.with_columns([pl.col(c).str.strip_chars() for c in header])


def _read_unquoted(text: str, separator: str, header: list[str]) -> pl.DataFrame:
    """Fast path (no quote character in the file): one record per line, read by polars,
    fields counted per line so that ragged lines are seen."""
    lines = pl.Series("ligne", text.split("\n")[1:], dtype=pl.String)
    if text.endswith("\n"):
        lines = lines.head(len(lines) - 1)
    frame = pl.read_csv(
        io.BytesIO(text.encode("utf-8")),
        separator=separator,
        quote_char=None,
        has_header=True,
        new_columns=header,
        schema={name: pl.String for name in header},
        infer_schema=False,
        truncate_ragged_lines=True,
        empty_string_is_null=False,
    )
    if frame.height != len(lines):
        raise RuntimeError("lecture incohérente : lignes lues et lignes du fichier diffèrent")
    extra = lines.str.count_matches(separator, literal=True).cast(pl.Int32) - (len(header) - 1)
    return frame.with_columns(
        pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias(LINE),
        extra.alias("_champs"),
    ).filter(lines.str.strip_chars() != "")


def _read_quoted(reader, header: list[str]) -> pl.DataFrame:
    """Python's csv module (quotes may span lines; a stray quote inside an unquoted field stays
    literal); records go to polars in blocks to keep memory bounded."""
    blocks: list[pl.DataFrame] = []
    block: list[list[str]] = []
    starts: list[int] = []
    widths: list[int] = []
    previous = reader.line_num
    collecting = gc.isenabled()
    gc.disable()  # millions of small lists: the cyclic collector would only slow this down
    try:
        for record in reader:
            if record:  # a blank line is no record
                starts.append(previous + 1)
                block.append(record)
                if len(block) == BLOCK_ROWS:
                    blocks.append(_block(header, block, widths))
                    block = []
            previous = reader.line_num
        blocks.append(_block(header, block, widths))
    finally:
        if collecting:
            gc.enable()
    return pl.concat(blocks).with_columns(
        pl.Series(LINE, starts, dtype=pl.Int64),
        pl.Series("_champs", widths, dtype=pl.Int32),
    )


def _block(header: list[str], records: list[list[str]], widths: list[int]) -> pl.DataFrame:
    """Records to columns (transposed in C by ``zip``); ragged records padded or cut, and
    their field count difference appended to ``widths``."""
    width = len(header)
    differences = [len(record) - width for record in records]
    widths.extend(differences)
    for index, difference in enumerate(differences):
        if difference:
            records[index] = (records[index] + [""] * -difference)[:width]
    columns = list(zip(*records, strict=True)) if records else [() for _ in header]
    return pl.DataFrame(
        [
            pl.Series(name, values, dtype=pl.String)
            for name, values in zip(header, columns, strict=True)
        ]
    )


def _check_last_record(
    path: Path, text: str, dialect: _Dialect, start: int, extra: int, width: int
) -> None:
    """A file that ends without a newline may have been cut during transfer."""
    cut_in_quotes = False
    try:
        for _ in csv.reader(io.StringIO(text), **dialect, strict=True):
            pass
    except csv.Error as exc:
        cut_in_quotes = "unexpected end of data" in str(exc)
    if extra < 0 or cut_in_quotes:
        found = "guillemets non refermés" if cut_in_quotes else f"{width + extra} champ(s)"
        raise DeliveryRefused(
            "fichier_tronque",
            f"{path.name}, ligne {start} : dernière ligne incomplète ({found} au lieu de "
            f"{width} champs, sans fin de ligne) ; le transfert a été coupé, demander une "
            "nouvelle livraison",
            line=start,
        )


def _check_header(path: Path, schema: Schema, header: list[str]) -> None:
    if not any(header):
        raise DeliveryRefused("en_tete", f"{path.name}, ligne 1 : ligne d'en-tête absente", line=1)
    if not set(header) & set(schema.column_names):
        # Likely a data row where the header should be: list nothing, it may be personal data.
        raise DeliveryRefused(
            "en_tete",
            f"{path.name}, ligne 1 : en-tête absent ou méconnaissable (aucune des colonnes du "
            "dessin n'y figure)",
            line=1,
        )
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
