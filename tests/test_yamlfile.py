"""The one YAML loader: French, located errors that are RecoursErrors, for every kind of file.

Every broken file here is a copy of one of the repository's own configuration files (no personal
data in them), broken in one known place, so the expected line is read from the file itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from pipelines.crossing.indicators import REPO_INDICATORS, CatalogueError, load_catalogue
from pipelines.publish.model import PublicationError
from pipelines.publish.protection import SECRET_FILE, load_protection
from recours.conventions import REPO_CONVENTIONS, ConventionError, load_convention
from recours.errors import RecoursError, YamlFileError
from recours.schemas import REPO_SCHEMAS, SchemaError, load_schema, load_schemas
from recours.yamlfile import YamlSyntaxError, load_yaml

# What pydantic says when its errors leak through untranslated.
ENGLISH = (
    "Field required",
    "Input should",
    "Extra inputs",
    "errors.pydantic.dev",
    "validation error",
    "For further information",
    "Value error,",
)


def french_only(message: str) -> None:
    for english in ENGLISH:
        assert english not in message, f"{english!r} dans : {message}"


def copy(tmp_path: Path, source: Path) -> Path:
    return Path(shutil.copy(source, tmp_path / source.name))


def replace(path: Path, old: str, new: str) -> int:
    """Replace the one line containing ``old``; its 1-based number."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    found = [n for n, text in enumerate(lines) if old in text]
    assert len(found) == 1, f"{old!r} doit apparaître sur une seule ligne de {path.name}"
    lines[found[0]] = lines[found[0]].replace(old, new)
    path.write_text("".join(lines), encoding="utf-8")
    return found[0] + 1


def line_of(path: Path, needle: str) -> int:
    found = [
        n
        for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if needle in text
    ]
    assert len(found) == 1, needle
    return found[0]


# --- a small model: every rule of the table ------------------------------------------------------


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z]+$")
    size: int = Field(ge=1)


class Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[1]
    kind: Literal["csv", "xlsx"]
    ratio: float
    active: bool
    items: list[Item]


GOOD = """\
# a comment first
version: 1
kind: csv
ratio: 0.5
active: true
items:
  - name: abc
    size: 2
  - name: def
    size: 3
"""


def test_a_valid_file_gives_the_model(tmp_path: Path) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(GOOD, encoding="utf-8")
    doc = load_yaml(path, Doc)
    assert isinstance(doc, Doc) and [item.size for item in doc.items] == [2, 3]
    assert load_yaml(path)["items"][1] == {"name": "def", "size": 3}


def test_every_broken_rule_in_french_on_its_line(tmp_path: Path) -> None:
    path = tmp_path / "doc.yaml"
    text = (
        GOOD.replace("kind: csv", "kind: ods")
        .replace("ratio: 0.5", "ratio: moitié")
        .replace("active: true", "active: peut-être\ncolour: bleu")
        .replace("  - name: abc\n    size: 2", "  - name: ABC\n    size: 0")
        .replace("    size: 3\n", "    taille: 3\n")
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(YamlFileError) as caught:
        load_yaml(path, Doc)
    assert isinstance(caught.value, RecoursError)
    assert caught.value.problems == [
        "doc.yaml, ligne 3 : valeur « ods » non admise pour kind (attendu : csv, xlsx)",
        "doc.yaml, ligne 4 : nombre attendu pour ratio : « moitié »",
        "doc.yaml, ligne 5 : true ou false attendu pour active : « peut-être »",
        "doc.yaml, ligne 8 : format invalide pour items[0].name : « ABC » (attendu : motif "
        "^[a-z]+$)",
        "doc.yaml, ligne 9 : items[0].size : 0 est inférieur au minimum 1",
        # a missing key: on the key of the table it is missing from
        "doc.yaml, ligne 10 : clé obligatoire manquante (items[1].size)",
        "doc.yaml, ligne 11 : clé inconnue « taille » (items[1].taille)",
        "doc.yaml, ligne 6 : clé inconnue « colour » (colour)",
    ]
    assert str(caught.value) == "\n".join(caught.value.problems)
    french_only(str(caught.value))


def test_a_missing_top_level_key_is_on_the_first_key_and_an_empty_value_is_named(
    tmp_path: Path,
) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(GOOD.replace("version: 1\n", "").replace("ratio: 0.5", "ratio:"), "utf-8")
    with pytest.raises(YamlFileError) as caught:
        load_yaml(path, Doc)
    assert caught.value.problems == [
        "doc.yaml, ligne 2 : clé obligatoire manquante (version)",
        "doc.yaml, ligne 3 : valeur vide pour ratio",
    ]


def test_an_unlisted_pydantic_rule_still_reads_in_french(tmp_path: Path) -> None:
    class Strict(BaseModel):
        code: str = Field(max_length=2)

    path = tmp_path / "strict.yaml"
    path.write_text("code: abcdef\n", encoding="utf-8")
    with pytest.raises(YamlFileError) as caught:
        load_yaml(path, Strict)
    assert str(caught.value) == (
        "strict.yaml, ligne 1 : valeur refusée pour code (règle « string_too_long »)"
    )


def test_empty_missing_and_non_utf8_files(tmp_path: Path) -> None:
    empty = tmp_path / "vide.yaml"
    empty.write_text("# rien\n", encoding="utf-8")
    with pytest.raises(YamlFileError, match=r"^vide\.yaml, ligne 1 : fichier vide$"):
        load_yaml(empty, Doc)
    assert load_yaml(empty) is None
    missing = tmp_path / "absent.yaml"
    with pytest.raises(YamlFileError) as caught:
        load_yaml(missing)
    assert str(caught.value) == (
        f"{missing} : fichier introuvable : vérifier le chemin et le nom du fichier"
    )
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("version: 1\nkind: csv\nlabel: été\n".encode("latin-1"))
    with pytest.raises(YamlFileError) as caught:
        load_yaml(latin)
    assert str(caught.value) == (
        "latin.yaml, ligne 3 : fichier illisible : encodage UTF-8 attendu (l'enregistrer en UTF-8)"
    )


def test_an_impossible_date_is_located(tmp_path: Path) -> None:
    path = tmp_path / "dates.yaml"
    path.write_text("a: 2025-02-28\nb:\n  - 2025-02-30\n", encoding="utf-8")
    with pytest.raises(YamlFileError) as caught:
        load_yaml(path)
    assert str(caught.value) == "dates.yaml, ligne 3 : date impossible : 2025-02-30"


# --- syntax: file, line and column ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "french"),
    [
        (
            "a: 1\nb: c: d\n",
            2,
            5,
            "« : » inattendu à cet endroit (deux « clé: » sur une même ligne, ou une "
            "indentation décalée ?)",
        ),
        ("a: 1\n\tb: 2\n", 2, 1, "tabulation interdite : indenter avec des espaces"),
        ('a: "ouvert\n', 2, 1, "fin de fichier inattendue : guillemet non fermé ?"),
        ("a: [1, 2\nb: 3\n", 2, 2, "liste entre crochets mal fermée : « , » ou « ] » attendu"),
    ],
)
def test_a_syntax_error_gives_line_and_column(
    tmp_path: Path, text: str, line: int, column: int, french: str
) -> None:
    path = tmp_path / "casse.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(YamlSyntaxError) as caught:
        load_yaml(path)
    error = caught.value
    assert isinstance(error, YamlFileError) and isinstance(error, RecoursError)
    assert (error.line, error.column) == (line, column)
    assert str(error) == f"casse.yaml, ligne {line} : YAML invalide, colonne {column} : {french}"


# --- the project's files -------------------------------------------------------------------------


def test_a_broken_schema(tmp_path: Path) -> None:
    path = copy(tmp_path, REPO_SCHEMAS / "caf31_allocataires.yaml")
    bad_type = replace(path, "{name: NIR, type: nir,", "{name: NIR, type: numero,")
    unknown = replace(path, "{name: ADRESSE, type: string}", "{name: ADRESSE, typ: string}")
    with pytest.raises(SchemaError) as caught:
        load_schema(path)
    assert isinstance(caught.value, RecoursError)
    assert str(caught.value) == (
        "caf31_allocataires.yaml : schéma invalide\n"
        f"caf31_allocataires.yaml, ligne {bad_type} : valeur « numero » non admise pour "
        "columns[2].type (attendu : string, text, integer, decimal, date, nir, commune)\n"
        f"caf31_allocataires.yaml, ligne {unknown} : clé obligatoire manquante (columns[8].type)\n"
        f"caf31_allocataires.yaml, ligne {unknown} : clé inconnue « typ » (columns[8].typ)"
    )
    french_only(str(caught.value))


def test_a_schema_validator_speaks_french_with_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "schemas"
    folder.mkdir()
    path = copy(folder, REPO_SCHEMAS / "caf31_allocataires.yaml")
    number = replace(path, ", date_format: JJ/MM/AAAA}", "}")
    with pytest.raises(SchemaError) as caught:
        load_schemas(folder)
    assert str(caught.value) == (
        "caf31_allocataires.yaml : schéma invalide\n"
        f"caf31_allocataires.yaml, ligne {number} : columns[6] : colonne DTNAIS : une date doit "
        "préciser date_format"
    )
    replace(path, "pattern: '^\\d{5}$'", "pattern: '^(\\d{5}$'")
    with pytest.raises(SchemaError, match="motif « pattern » invalide"):
        load_schema(path)


def test_a_schema_syntax_error_is_located(tmp_path: Path) -> None:
    path = copy(tmp_path, REPO_SCHEMAS / "cpam31_css.yaml")
    number = replace(path, "format: csv", "format: csv: x")
    with pytest.raises(YamlSyntaxError) as caught:
        load_schema(path)
    assert str(caught.value).startswith(f"cpam31_css.yaml, ligne {number} : YAML invalide, colonne")


def test_a_broken_convention(tmp_path: Path) -> None:
    path = copy(tmp_path, REPO_CONVENTIONS / "caf31.yaml")
    number = replace(path, "publication_threshold: 11", "publication_threshold: onze")
    with pytest.raises(ConventionError) as caught:
        load_convention(path)
    assert isinstance(caught.value, RecoursError)
    assert str(caught.value) == (
        f"caf31.yaml, ligne {number} : nombre entier attendu pour publication_threshold : « onze »"
    )
    french_only(str(caught.value))


def test_a_broken_catalogue(tmp_path: Path) -> None:
    folder = Path(shutil.copytree(REPO_INDICATORS, tmp_path / "indicators"))
    path = folder / "catalogue.yaml"
    number = replace(path, "    label: Non-recours présumé au RSA", "    titre: RSA")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(folder)
    assert isinstance(caught.value, RecoursError)
    problems = caught.value.problems
    assert (
        f"catalogue.yaml, ligne {number} : « indicators.0.titre » : champ inconnu" in (problems[1])
    )
    assert problems[0].startswith(f"catalogue.yaml, ligne {number - 1} : « indicators.0.label »")
    french_only(str(caught.value))


def test_a_broken_secret_file(tmp_path: Path) -> None:
    path = copy(tmp_path, SECRET_FILE)
    number = replace(path, "largeur_protection: 5", "largeur_protection: cinq")
    with pytest.raises(PublicationError) as caught:
        load_protection(path)
    assert str(caught.value) == (
        f"paramètres du secret invalides : secret.yaml, ligne {number} : nombre entier attendu "
        "pour largeur_protection : « cinq »"
    )
    french_only(str(caught.value))
    replace(path, "version: 1", "version: 1: 2")
    with pytest.raises(PublicationError) as caught:
        load_protection(path)
    number = line_of(path, "version: 1: 2")
    assert str(caught.value).startswith(
        f"paramètres du secret illisibles : secret.yaml, ligne {number} : YAML invalide, colonne 11"
    )
