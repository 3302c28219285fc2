"""Write partner files byte for byte as their layouts say, streaming slices of lines.

CSV-like files are written by polars (quoting only where needed, or never for the CARSAT's
mainframe export), then re-encoded (cp1252, Latin-1, UTF-8 with or without BOM) with a strict
codec: a character the announced encoding cannot hold is a bug here, not a quirk to ship. The
France Travail workbook is a real .xlsx made with xlsxwriter in constant-memory mode: a
``lisez-moi`` cover sheet first, then the data on ``demandeurs`` with Excel dates and the INSEE
code as text. Document properties carry a fixed date so that the same seed gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Literal

import polars as pl

from recours.schemas import Schema

CODECS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "cp1252": "cp1252", "latin-1": "latin-1"}
BOM = b"\xef\xbb\xbf"
FIXED_TIME = datetime(2000, 1, 1)  # workbook metadata: constant, for byte-identical files


def write_delimited(
    path: Path,
    schema: Schema,
    slices: Iterator[pl.DataFrame],
    on_slice: Callable[[int], None] | None = None,
) -> int:
    """Write the slices (string columns in schema order) and return the number of lines."""
    codec = CODECS[schema.encoding]
    terminator = "\r\n" if schema.line_ending == "crlf" else "\n"
    quote_style: Literal["necessary", "never"] = "necessary" if schema.quote else "never"
    lines = 0
    with path.open("wb") as handle:
        if schema.encoding == "utf-8-sig":
            handle.write(BOM)
        first = True
        for frame in slices:
            if list(frame.columns) != schema.column_names:
                raise ValueError(f"{schema.id} : colonnes produites ≠ dessin du fichier")
            # An empty field is written as nothing at all (never as ""): nulls do that.
            frame = frame.with_columns(
                pl.when(pl.col(pl.String) != "").then(pl.col(pl.String)).name.keep()
            )
            buffer = io.BytesIO()
            frame.write_csv(
                buffer,
                include_header=first,
                separator=schema.separator,
                quote_char=schema.quote or '"',
                quote_style=quote_style,
                line_terminator=terminator,
            )
            data = buffer.getvalue()
            if codec != "utf-8":
                data = data.decode("utf-8").encode(codec)
            handle.write(data)
            first = False
            lines += frame.height
            if on_slice is not None:
                on_slice(lines)
    return lines


README_SHEET = (
    "France Travail Occitanie — extraction des demandeurs d'emploi",
    "Destinataire : Conseil départemental de la Haute-Garonne (convention TZNR)",
    "Une ligne par demandeur inscrit à la date d'extraction et résidant en Haute-Garonne.",
    "Les données sont sur la feuille « demandeurs » ; cette feuille n'est qu'une notice.",
    "Dates au format date Excel ; COMMUNE_INSEE au format texte (code INSEE sur 5 caractères).",
    "Données personnelles : à conserver et détruire selon la convention.",
)


def write_workbook(
    path: Path,
    schema: Schema,
    slices: Iterator[pl.DataFrame],
    extraction: str,
    on_slice: Callable[[int], None] | None = None,
) -> int:
    """The France Travail workbook: cover sheet, then ``demandeurs`` (dates typed)."""
    import xlsxwriter

    date_columns = {c.name for c in schema.columns if c.type == "date"}
    workbook = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "strings_to_numbers": False}
    )
    workbook.set_properties(
        {
            "title": "Demandeurs d'emploi",
            "author": "France Travail Occitanie",
            "created": FIXED_TIME,
        }
    )
    cover = workbook.add_worksheet("lisez-moi")
    sheet = workbook.add_worksheet(schema.sheet or "demandeurs")
    bold = workbook.add_format({"bold": True})
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    cover.write_string(0, 0, README_SHEET[0], bold)
    for row, text in enumerate(README_SHEET[1:], start=1):
        cover.write_string(row, 0, text)
    cover.write_string(len(README_SHEET) + 1, 0, f"Date d'extraction : {extraction}")
    names = schema.column_names
    for col, name in enumerate(names):
        sheet.write_string(0, col, name, bold)
    row = 1
    for frame in slices:
        if list(frame.columns) != names:
            raise ValueError(f"{schema.id} : colonnes produites ≠ dessin du fichier")
        columns = [frame[name].to_list() for name in names]
        kinds = [name in date_columns for name in names]
        write_number, write_string = sheet.write_number, sheet.write_string
        for values in zip(*columns, strict=True):
            for col, (value, is_date) in enumerate(zip(values, kinds, strict=True)):
                if is_date:
                    write_number(row, col, value, date_format)
                elif value:
                    write_string(row, col, value)
            row += 1
        if on_slice is not None:
            on_slice(row - 1)
    workbook.close()
    return row - 1
