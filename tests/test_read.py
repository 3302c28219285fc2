"""The schema-driven reader on small hand-made partner files (``tests/fixtures``).

Each fixture holds one quirk of a partner layout (the technical annexes of the conventions)
or one way a delivery can be wrong. Good files must come back with the exact values, every
accent right, and the physical line (or Excel row) of each record; bad files must be refused
with a stable rule and a message that names the file (and line or column where it applies)
but never quotes a cell.
``tests/fixtures/make_fixtures.py`` writes the fixtures; these tests read the files only.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import importlib.util
import re
import zipfile
from pathlib import Path

import fastexcel
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.ingest.read import read_delivery
from recours.errors import DeliveryRefused
from recours.schemas import Schema, load_schemas

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SCHEMAS = load_schemas()
# convention -> (schema id, file name as the partner names it)
DELIVERIES = {
    "caf31": ("caf31_allocataires", "CAF31_ALLOCATAIRES_20240131.csv"),
    "cpam31": ("cpam31_css", "CPAM31_CSS_20240131.csv"),
    "carsatmp": ("carsatmp_retraites", "CARSATMP_RETRAITES_20240131.txt"),
    "ftocc": ("ftocc_demandeurs", "FTOCC_DEMANDEURS_20240131.xlsx"),
    "cd31": ("cd31_usagers", "CD31_USAGERS_20240131.csv"),
}
HELPERS = ["_ligne", "_champs"]
# UTF-8 read as a single-byte encoding ("Ã©"), C1 controls, replacement characters.
MOJIBAKE = re.compile("[\u0080-\u009f\ufffd]|Ã[©¨§ª«¢¡ ‰€®¯¹º»¼½¾¿´¶·¸‡ˆ‹]|â€")


def schema(convention: str) -> Schema:
    return SCHEMAS[DELIVERIES[convention][0]]


def fixture(convention: str, case: str, suffix: str = "") -> Path:
    path = FIXTURES / convention / case / (DELIVERIES[convention][1] + suffix)
    assert path.is_file(), f"fixture absente : {path}"
    return path


def read(convention: str, case: str, suffix: str = "") -> pl.DataFrame:
    return read_delivery(fixture(convention, case, suffix), schema(convention))


def rows(columns: list[str], *values: tuple[str | None, ...]) -> list[dict[str, str | None]]:
    return [dict(zip(columns, row, strict=True)) for row in values]


def data(frame: pl.DataFrame) -> list[dict[str, str | None]]:
    return frame.drop(HELPERS).to_dicts()


def assert_shape(frame: pl.DataFrame, columns: list[str]) -> None:
    """Columns in file order then the helpers; every data column a String; no mojibake."""
    assert frame.columns == [*columns, *HELPERS]
    assert all(frame.schema[name] == pl.String for name in columns)
    assert frame.schema["_ligne"] == pl.Int64
    for name in columns:
        for value in frame[name].drop_nulls():
            assert not MOJIBAKE.search(value), f"{name} : {value!r}"
            assert value == value.strip(), f"{name} : {value!r} non rogné"


def refuse(path: Path, convention: str) -> DeliveryRefused:
    with pytest.raises(DeliveryRefused) as caught:
        read_delivery(path, schema(convention))
    return caught.value


def cell_values(path: Path, *, header: bool = True) -> set[str]:
    """Every cell value of a fixture (4+ characters, header names left out): what no refusal
    message may quote. ``header=False`` for a file whose first line is data."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as book:
            xml = book.read("xl/sharedStrings.xml").decode("utf-8")
        strings = {html.unescape(s) for s in re.findall(r"<t[^>]*>([^<]*)</t>", xml)}
        return {s.strip() for s in strings if len(s.strip()) >= 4} - set(
            schema("ftocc").column_names
        )
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    lines = text.splitlines()[1:] if header else text.splitlines()
    fields = {field.strip() for line in lines for field in re.split(r'[;|"]', line)}
    return {field for field in fields if len(field) >= 4}


def assert_quotes_no_cell(refused: DeliveryRefused, values: set[str]) -> None:
    quoted = sorted(value for value in values if value in refused.message)
    assert not quoted, f"le message cite des valeurs du fichier : {quoted}"


# --- CAF: cp1252, ";", quotes, decimal comma, CRLF ---------------------------------------------

CAF_COLUMNS = schema("caf31").column_names
CAF_ADDRESS = "12 RUE DES ÉCOLES; BÂT B"
CAF_EXPECTED = rows(
    CAF_COLUMNS,
    ("1234567", "ALL", "2 85 03 31 555 042 79", "DUPONT", "", "HÉLÈNE", "15/03/1985", "2",
     CAF_ADDRESS, "31000", "31555", "SEP", "2", "3456,78", "1234,56", "245,10", "O", "N", "N"),
    ("1234567", "ENF", "", "DUPONT", "", "Léa", "11/11/2015", "2",
     CAF_ADDRESS, "31000", "31555", "SEP", "2", "3456,78", "1234,56", "245,10", "O", "N", "N"),
    ("1234567", "ENF", "", "DUPONT", "", "Noé", "02/02/2018", "1",
     CAF_ADDRESS, "31000", "31555", "SEP", "2", "3456,78", "1234,56", "245,10", "O", "N", "N"),
    ("7654321", "ALL", "260019935001782", "Lecœur", "MARTIN", "Françoise Agnès", "01/01/1960", "2",
     "CHEMIN DE L'ÉGLISE", "31700", "31069", "VEU", "0", "0,00", "0,00", "0", "N", "N", "O"),
    ("7654322", "ALL", "179112A00412358", "DE LA FONTAINE", "", "JEAN-PIERRE", "30/11/1979", "1",
     "3 IMPASSE DU CÈDRE", "31770", "31149", "CEL", "0", "12345,67", "12345,67", "0", "N", "O",
     "N"),
)  # fmt: skip


def test_caf_fixture_has_the_layout_quirks() -> None:
    raw = fixture("caf31", "conforme").read_bytes()
    assert raw.count(b"\r\n") == 6 and raw.count(b"\n") == 6  # CRLF only
    for cp1252 in (b"H\xc9L\xc8NE", b"L\xe9a", b"Lec\x9cur", b"Fran\xe7oise Agn\xe8s"):
        assert cp1252 in raw
    assert b'"12 RUE DES \xc9COLES; B\xc2T B"' in raw  # a quoted field holding ";"
    assert b";3456,78;1234,56;245,10;" in raw


def test_caf_cp1252_semicolon_quotes_decimal_comma_crlf_read_exactly() -> None:
    frame = read("caf31", "conforme")
    assert_shape(frame, CAF_COLUMNS)
    assert data(frame) == CAF_EXPECTED
    assert frame["_ligne"].to_list() == [2, 3, 4, 5, 6]
    assert frame["_champs"].to_list() == [0, 0, 0, 0, 0]


def test_caf_quoted_field_keeps_its_separator_and_loses_its_quotes() -> None:
    frame = read("caf31", "conforme")
    assert frame["ADRESSE"].to_list()[:3] == [CAF_ADDRESS] * 3
    assert frame["NOMNAIS"][3] == "Lecœur"  # quoted without need: quotes removed
    assert frame["PRENOM"][3] == "Françoise Agnès"


def test_caf_amounts_keep_the_decimal_comma_as_text() -> None:
    frame = read("caf31", "conforme")
    assert frame["RESSTRIM"].to_list() == ["3456,78", "3456,78", "3456,78", "0,00", "12345,67"]
    assert frame["MTAL"].to_list() == ["245,10", "245,10", "245,10", "0", "0"]


def test_caf_complete_last_line_without_final_newline_is_read() -> None:
    assert not fixture("caf31", "sans_fin_de_ligne").read_bytes().endswith(b"\n")
    assert_frame_equal(read("caf31", "sans_fin_de_ligne"), read("caf31", "conforme"))


def test_caf_ragged_middle_lines_are_kept_and_flagged_in_champs() -> None:
    frame = read("caf31", "lignes_irregulieres")
    assert frame["_ligne"].to_list() == [2, 3, 4, 5, 6]
    # line 3: an unquoted ";" in the address (one field too many); line 4: two fields missing
    assert frame["_champs"].to_list() == [0, 1, -2, 0, 0]
    assert frame["ADRESSE"][1] == "12 RUE DES ÉCOLES"
    assert frame["CODEPOSTAL"][1] == "BÂT B"
    assert (frame["DROITPPA"][2], frame["DROITAAH"][2]) == ("", "")
    untouched = frame.filter(pl.col("_champs") == 0)
    assert data(untouched) == [CAF_EXPECTED[0], CAF_EXPECTED[3], CAF_EXPECTED[4]]


# --- CPAM: UTF-8 with BOM, ISO dates, LF, NIA ---------------------------------------------------

CPAM_COLUMNS = schema("cpam31").column_names
CPAM_EXPECTED = rows(
    CPAM_COLUMNS,
    ("285033155504279", "DUPONT", "HÉLÈNE", "1985-03-15", "2", "31555", "GRATUITE", "2023-06-01",
     "2024-05-31"),
    ("785129935012335", "N'DIAYE", "Aïssatou", "1985-12-03", "2", "31069", "PARTICIPATION",
     "2023-10-01", "2024-09-30"),
    ("890059910901183", "MÜLLER", "Jürgen", "1990-05-21", "1", "31395", "GRATUITE", "2024-01-01",
     "2024-12-31"),
    ("179112A00412358", "DE LA FONTAINE", "Jean-Pierre", "1979-11-30", "1", "31149", "GRATUITE",
     "2023-02-01", "2024-01-31"),
)  # fmt: skip


def test_cpam_fixture_has_a_bom_and_lf_only() -> None:
    raw = fixture("cpam31", "conforme").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfnir;")
    assert b"\r" not in raw
    assert "MÜLLER".encode() in raw


def test_cpam_bom_is_not_in_the_first_column_name() -> None:
    frame = read("cpam31", "conforme")
    assert frame.columns[0] == "nir"
    assert not any("\ufeff" in name for name in frame.columns)


def test_cpam_utf8_bom_iso_dates_and_nia_read_exactly() -> None:
    frame = read("cpam31", "conforme")
    assert_shape(frame, CPAM_COLUMNS)
    assert data(frame) == CPAM_EXPECTED
    assert [nir[0] for nir in frame["nir"]] == ["2", "7", "8", "1"]  # NIA start with 7 or 8
    assert frame["_ligne"].to_list() == [2, 3, 4, 5]
    assert frame["_champs"].to_list() == [0, 0, 0, 0]


def test_extra_unexpected_column_is_kept_by_the_reader() -> None:
    frame = read("cpam31", "colonne_en_plus")
    assert_shape(frame, [*CPAM_COLUMNS, "telephone"])
    assert frame["telephone"].to_list() == [
        "06 39 98 00 11",
        "01 99 00 00 12",
        "",
        "06 39 98 00 14",
    ]
    assert frame.drop("telephone").equals(read("cpam31", "conforme"))


# --- CARSAT: Latin-1, "|", no quoting, padding, AAAAMMJJ with 00 -------------------------------

CARSAT_COLUMNS = schema("carsatmp").column_names
CARSAT_EXPECTED = rows(
    CARSAT_COLUMNS,
    ("148999935004232", "N'DIAYE", "MAMADOU IBRAHIMA", "19480000", "M", "31555", "1234.56", "1",
     "20130401"),
    ("252033155511769", 'DE L"ESTRADE', '"MIMI" MARIE-THÉRÈSE', "19520300", "F", "31069",
     "987.00", "0", "20120701"),
    ("156029913803194", "LEFÈVRE", "JOSÉ ÉLOÏ", "19560229", "M", "09225", "2100.00", "0",
     "20210301"),
    ("150063139520134", "GARÇON", "ANDRÉ", "19500615", "M", "31395", "0.00", "1", "20150101"),
)  # fmt: skip


def test_carsat_fixture_is_padded_latin1_without_quoting() -> None:
    raw = fixture("carsatmp", "conforme").read_bytes()
    assert b"\r" not in raw
    assert b"|LEF\xc8VRE             |JOS\xc9 \xc9LO\xcf" in raw  # Latin-1, padded
    assert b'|DE L"ESTRADE        |"MIMI" MARIE-TH\xc9R\xc8SE' in raw
    assert raw.startswith(b"NIR            |NOM ")  # the header is padded too
    assert b"20130401          \n" in raw  # so is the last field of a line


def test_carsat_latin1_pipe_padding_read_exactly() -> None:
    frame = read("carsatmp", "conforme")
    assert_shape(frame, CARSAT_COLUMNS)
    assert data(frame) == CARSAT_EXPECTED
    assert frame["_ligne"].to_list() == [2, 3, 4, 5]
    assert frame["_champs"].to_list() == [0, 0, 0, 0]


def test_carsat_double_quote_is_an_ordinary_character() -> None:
    frame = read("carsatmp", "conforme")
    assert frame["NOM"][1] == 'DE L"ESTRADE'  # unbalanced: must not open a quoted field
    assert frame["PRENOMS"][1] == '"MIMI" MARIE-THÉRÈSE'  # opening a field: kept as written
    assert frame["NOM"][0] == "N'DIAYE"


def test_carsat_unknown_day_and_month_stay_as_written() -> None:
    frame = read("carsatmp", "conforme")
    assert frame["DATE_NAISSANCE"].to_list() == ["19480000", "19520300", "19560229", "19500615"]


# --- France Travail: xlsx -----------------------------------------------------------------------

FT_COLUMNS = schema("ftocc").column_names
FT_EXPECTED = rows(
    FT_COLUMNS,
    ("1234567A", "285033155504279", "MARTIN", "Hélène", "1985-03-15", "F", "31555", "A", "ARE",
     "2023-09-01"),
    ("7654321B", None, "N'DIAYE", "Aïssatou", "1985-12-03", "F", "31069", "B", "AUCUNE",
     "2024-01-08"),
    ("1111111C", "179112A00412358", "DE LA FONTAINE", "Jean-Pierre", "1979-11-30", "H", "31149",
     "A", "ASS", "2022-05-16"),
    ("2222222D", "260019935001782", "LECŒUR", "Françoise", "1960-01-01", "F", "09225", "C",
     "AUCUNE", "2024-01-31"),
)  # fmt: skip


def test_ftocc_fixture_has_real_excel_dates_and_text_codes() -> None:
    book = fastexcel.read_excel(fixture("ftocc", "conforme"))
    assert book.sheet_names == ["lisez-moi", "demandeurs"]
    typed = book.load_sheet_by_name("demandeurs").to_polars()
    assert typed.schema["DATE_NAISSANCE"] in (pl.Date, pl.Datetime("ms"))
    assert typed.schema["DATE_INSCRIPTION"] in (pl.Date, pl.Datetime("ms"))
    assert typed.schema["COMMUNE_INSEE"] == pl.String
    assert typed["COMMUNE_INSEE"].to_list() == ["31555", "31069", "31149", None, "09225"]


def test_ftocc_xlsx_read_exactly_with_iso_dates() -> None:
    frame = read("ftocc", "conforme")
    assert_shape(frame, FT_COLUMNS)
    assert data(frame) == FT_EXPECTED


def test_ftocc_ligne_is_the_excel_row_even_after_a_blank_row() -> None:
    frame = read("ftocc", "conforme")
    assert frame["_ligne"].to_list() == [2, 3, 4, 6]  # row 5 is blank
    assert frame["_champs"].to_list() == [0, 0, 0, 0]


def test_ftocc_cover_sheet_is_ignored() -> None:
    frame = read("ftocc", "conforme")
    assert frame.height == 4
    values = {v for name in FT_COLUMNS for v in frame[name].drop_nulls()}
    assert not any("lisez-moi" in v or "France Travail" in v for v in values)
    assert "IDENTIFIANT_FT" not in values


# --- CD31: UTF-8, OBSERVATIONS quoted over several lines ----------------------------------------

CD31_COLUMNS = schema("cd31").column_names
CD31_EXPECTED = rows(
    CD31_COLUMNS,
    ("1001", "285033155504279", "DUPONT", "Hélène", "15/03/1985", "F", "31555",
     "12 rue des Écoles", "06 39 98 00 01", "SOCIAL", "N", "N", "12/01/2024", ""),
    ("1002", "", "N'DIAYE", "Aïssatou", "03/12/1985", "F", "31069", "Résidence Les Pins; bât C",
     "01 99 00 00 02", "PRO", "N", "N", "05/02/2024",
     "Entretien du 05/02 ; vue avec sa sœur.\n"
     "Tél. de la sœur : 06 39 98 00 03, aissatou.ndiaye@example.org\n"
     'Dit : "je n\'ai droit à rien"'),
    ("1003", "179112A00412358", "DE LA FONTAINE", "Jean-Pierre", "30/11/1979", "H", "31149",
     "3 impasse du Cèdre", "", "AUCUN", "N", "O", "20/12/2023",
     "PCH renouvelée ; dossier MDPH complet.\nRappeler en mars."),
    ("1004", "", "LECŒUR", "François", "01/01/1960", "H", "31555", "", "", "AUCUN", "O", "N",
     "31/01/2024", ""),
)  # fmt: skip


def test_cd31_fixture_has_multiline_quoted_observations() -> None:
    raw = fixture("cd31", "conforme").read_bytes()
    assert raw.count(b"\n") == 8 and b"\r" not in raw  # 4 records over 7 lines + header
    assert b'Dit : ""je n\'ai droit \xc3\xa0 rien"""\n' in raw


def test_cd31_multiline_observations_read_exactly() -> None:
    frame = read("cd31", "conforme")
    assert_shape(frame, CD31_COLUMNS)
    assert data(frame) == CD31_EXPECTED
    assert frame["_champs"].to_list() == [0, 0, 0, 0]


def test_cd31_ligne_is_where_each_record_starts_after_multiline_records() -> None:
    frame = read("cd31", "conforme")
    assert frame["_ligne"].to_list() == [2, 3, 6, 8]


# --- compressed deliveries and sidecars ---------------------------------------------------------


@pytest.mark.parametrize("convention", ["caf31", "carsatmp"])
def test_gzip_delivery_reads_exactly_like_the_plain_file(convention: str) -> None:
    assert fixture(convention, "conforme", ".gz").read_bytes()[:2] == b"\x1f\x8b"
    assert_frame_equal(read(convention, "conforme", ".gz"), read(convention, "conforme"))


def test_sha256_sidecar_example_matches_its_file() -> None:
    delivery = fixture("caf31", "conforme")
    sidecar = fixture("caf31", "conforme", ".sha256").read_text(encoding="ascii")
    assert sidecar == f"{hashlib.sha256(delivery.read_bytes()).hexdigest()}  {delivery.name}\n"


# --- refusals ------------------------------------------------------------------------------------

REFUSALS = [
    # convention, case, suffix, rule, line, column, words the message must hold
    ("caf31", "vide", "", "fichier_vide", None, None, ["vide"]),
    ("ftocc", "vide", "", "fichier_vide", None, None, ["vide"]),
    ("caf31", "en_tete_seul", "", "fichier_sans_donnees", None, None, ["en-tête"]),
    ("cpam31", "en_tete_seul", "", "fichier_sans_donnees", None, None, ["en-tête"]),
    ("ftocc", "en_tete_seul", "", "fichier_sans_donnees", None, None, ["en-tête"]),
    ("caf31", "encodage_utf8", "", "encodage", None, None, ["UTF-8", "Windows-1252"]),
    ("carsatmp", "encodage_utf8", "", "encodage", None, None, ["UTF-8", "Latin-1"]),
    ("cd31", "encodage_cp1252", "", "encodage", 5, None, ["UTF-8"]),
    ("cpam31", "colonne_manquante", "", "colonne_manquante", 1, "type_css", ["type_css"]),
    ("carsatmp", "colonne_renommee", "", "colonne_manquante", 1, "CODE_INSEE_RESIDENCE",
     ["CODE_INSEE_RESIDENCE", "colonnes inattendues : CODE_INSEE"]),
    ("carsatmp", "tronque", "", "fichier_tronque", 4, None, ["incomplète"]),
    ("carsatmp", "gzip_tronque", ".gz", "gzip_illisible", None, None, ["gzip"]),
    ("carsatmp", "gzip_crc_faux", ".gz", "gzip_illisible", None, None, ["gzip"]),
    ("caf31", "gzip_pas_gzip", ".gz", "gzip_illisible", None, None, ["gzip"]),
    ("ftocc", "feuille_absente", "", "feuille_absente", None, None, ["« demandeurs »"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("convention", "case", "suffix", "rule", "line", "column", "words"),
    REFUSALS,
    ids=[f"{r[0]}-{r[1]}" for r in REFUSALS],
)
def test_bad_delivery_is_refused_with_rule_file_line_and_no_cell_value(
    convention: str,
    case: str,
    suffix: str,
    rule: str,
    line: int | None,
    column: str | None,
    words: list[str],
) -> None:
    path = fixture(convention, case, suffix)
    refused = refuse(path, convention)
    assert (refused.rule, refused.line, refused.column) == (rule, line, column)
    assert refused.message.startswith(path.name)
    if line is not None:
        assert refused.message.startswith(f"{path.name}, ligne {line} :")
    for word in words:
        assert word in refused.message
    if path.stat().st_size:
        source = fixture(convention, "conforme") if suffix == ".gz" else path  # what it held
        assert_quotes_no_cell(refused, cell_values(source))


def test_cp1252_file_where_utf8_announced_points_at_the_first_bad_line() -> None:
    raw = fixture("cd31", "encodage_cp1252").read_bytes()
    first_bad = next(i for i, line in enumerate(raw.split(b"\n"), 1) if not line.isascii())
    assert first_bad == 5  # lines 3-4 hold one record: the count is of physical lines
    assert refuse(fixture("cd31", "encodage_cp1252"), "cd31").line == first_bad


# --- edge cases found in review: each test states the behaviour wanted ---


def test_headerless_file_is_refused_without_quoting_its_first_row() -> None:
    path = fixture("caf31", "sans_en_tete")
    refused = refuse(path, "caf31")
    assert refused.rule in ("en_tete", "colonne_manquante")
    assert refused.message.startswith(f"{path.name}, ligne 1 :")
    assert_quotes_no_cell(refused, cell_values(path, header=False))


def test_trailing_blank_line_is_no_record() -> None:
    assert fixture("caf31", "ligne_vide_finale").read_bytes().endswith(b"\r\n\r\n")
    assert_frame_equal(read("caf31", "ligne_vide_finale"), read("caf31", "conforme"))


def test_stray_quote_inside_an_unquoted_field_is_literal_or_refused() -> None:
    path = fixture("caf31", "guillemet_isole")
    try:
        frame = read_delivery(path, schema("caf31"))
    except DeliveryRefused as refused:
        assert refused.message.startswith(path.name)
        assert_quotes_no_cell(refused, cell_values(path))
    else:
        assert frame["NOMNAIS"].to_list() == ['DE L"ESTRADE', "Lecœur"]
        assert frame["_ligne"].to_list() == [2, 3]


def test_file_cut_inside_a_quoted_field_is_truncated() -> None:
    path = fixture("cd31", "tronque_dans_guillemets")
    refused = refuse(path, "cd31")
    assert (refused.rule, refused.line) == ("fichier_tronque", 3)
    assert refused.message.startswith(f"{path.name}, ligne 3 :")
    assert_quotes_no_cell(refused, cell_values(path))


def test_encoding_error_line_is_right_in_a_file_with_a_bom() -> None:
    refused = refuse(fixture("cpam31", "bom_puis_cp1252"), "cpam31")
    assert (refused.rule, refused.line) == ("encodage", 3)
    assert "ligne 3" in refused.message


def test_cp1252_file_where_latin1_announced_is_refused() -> None:
    path = fixture("carsatmp", "cp1252_annonce_latin1")
    refused = refuse(path, "carsatmp")
    assert (refused.rule, refused.line) == ("encodage", 3)
    assert_quotes_no_cell(refused, cell_values(path))


def test_bom_only_file_is_empty() -> None:
    assert fixture("cpam31", "bom_seul").read_bytes() == b"\xef\xbb\xbf"
    assert refuse(fixture("cpam31", "bom_seul"), "cpam31").rule == "fichier_vide"


def test_cell_values_helper_sees_the_cells_and_not_the_header() -> None:
    caf = cell_values(fixture("caf31", "conforme"))
    assert {"HÉLÈNE", "2 85 03 31 555 042 79", "Lecœur", "12 RUE DES ÉCOLES"} <= caf
    assert "NUMALLOC" not in caf
    assert "CHEMIN DE L'ÉGLISE" in cell_values(fixture("caf31", "sans_en_tete"), header=False)
    ft = cell_values(fixture("ftocc", "conforme"))
    assert {"Hélène", "285033155504279", "LECŒUR"} <= ft
    assert "IDENTIFIANT_FT" not in ft


# --- the fixtures themselves --------------------------------------------------------------------


def test_fixture_files_are_exactly_what_make_fixtures_writes() -> None:
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected: dict[str, bytes] = module.build()
    on_disk = {
        path.relative_to(FIXTURES).as_posix(): path.read_bytes()
        for path in FIXTURES.glob("*/*/*")
        if path.is_file()
    }
    assert sorted(on_disk) == sorted(expected)
    stale = [name for name, content in expected.items() if on_disk[name] != content]
    assert not stale, f"relancer tests/fixtures/make_fixtures.py : {stale}"


def test_text_fixtures_are_tiny() -> None:
    for path in FIXTURES.glob("*/*/*"):
        if path.suffix in (".csv", ".txt"):
            assert path.read_bytes().count(b"\n") <= 11, path
