"""The one YAML loader: every configuration file a person edits goes through it.

Conventions, dataset schemas, the indicator catalogue, the disclosure settings and the zoning
description are written by a DPO or a data engineer, not a Python developer: a mistake must come
back as "caf31.yaml, ligne 12 : ..." in French, never as pydantic's English and its URL. So every
mapping and list keeps the line of each of its keys and items, and pydantic's errors are
rephrased from one table, each on the line of the key it is about.

``load_yaml`` is the entry point; the pieces it is made of (``read_yaml``, ``check``) serve the
loaders that gather every problem of several files before raising (the conventions).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, overload

import yaml
from pydantic import BaseModel, ValidationError

from recours.errors import YamlFileError

M = TypeVar("M", bound=BaseModel)


@dataclass
class Located:
    """A loaded YAML document plus the line (1-based) of every path inside it."""

    path: Path
    data: Any
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict)

    def line_of(self, *keys: str | int) -> int:
        """Line of the deepest known prefix of ``keys`` (1 when nothing matches)."""
        for end in range(len(keys), -1, -1):
            line = self.lines.get(tuple(keys[:end]))
            if line is not None:
                return line
        return 1

    def problem(self, message: str, *keys: str | int) -> str:
        """``<file>, ligne <n> : <message>``, the line being that of ``keys``."""
        return f"{self.path.name}, ligne {self.line_of(*keys)} : {message}"


class YamlProblem(NamedTuple):
    """One thing wrong in a file, located: what the loaders print, one per line."""

    file: str
    line: int  # 1-based
    message: str  # in French

    def __str__(self) -> str:
        return f"{self.file}, ligne {self.line} : {self.message}"


# --- syntax -------------------------------------------------------------------------------------

# PyYAML's own wording (English) → what the person editing the file should look for. Matched on
# the beginning of the parser's message; anything else (our loaders' own French messages, such as
# a duplicated key) is shown as the parser gave it.
_SYNTAX = (
    (
        "mapping values are not allowed here",
        "« : » inattendu à cet endroit (deux « clé: » sur une même ligne, ou une indentation "
        "décalée ?)",
    ),
    (
        "found character '\\t' that cannot start any token",
        "tabulation interdite : indenter avec des espaces",
    ),
    ("could not find expected ':'", "« : » attendu après la clé"),
    ("found unexpected end of stream", "fin de fichier inattendue : guillemet non fermé ?"),
    (
        "expected <block end>",
        "indentation incohérente : la ligne n'est pas alignée sur celles du même niveau",
    ),
    (
        "did not find expected key",
        "clé attendue : indentation incohérente ou élément de liste mal placé",
    ),
    ("did not find expected '-' indicator", "élément de liste « - » attendu à cet endroit"),
    ("expected ',' or ']'", "liste entre crochets mal fermée : « , » ou « ] » attendu"),
    ("expected ',' or '}'", "table entre accolades mal fermée : « , » ou « } » attendu"),
    ("found undefined alias", "alias « * » sans ancre « & » correspondante"),
    ("found unhashable key", "une liste ou une table ne peut pas servir de clé"),
    ("could not determine a constructor", "étiquette « ! » non admise dans ce fichier"),
    ("found unknown escape character", "séquence « \\ » inconnue dans un texte entre guillemets"),
    ("expected a single document", "un seul document attendu (pas de séparateur « --- »)"),
)


def _french_syntax(problem: str) -> str:
    return next((french for english, french in _SYNTAX if problem.startswith(english)), problem)


class YamlSyntaxError(YamlFileError):
    """The file is not valid YAML; carries the file, line and column, and the parser's own
    ``problem`` for the loaders whose messages quote it."""

    def __init__(self, path: Path, line: int, problem: str, column: int = 1) -> None:
        super().__init__(
            f"{path.name}, ligne {line} : YAML invalide, colonne {column} : "
            f"{_french_syntax(problem)}"
        )
        self.path, self.line, self.column, self.problem = path, line, column, problem


def _syntax_error(path: Path, exc: yaml.YAMLError) -> YamlSyntaxError:
    mark = getattr(exc, "problem_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    return YamlSyntaxError(path, line, getattr(exc, "problem", None) or str(exc), column)


# --- reading ------------------------------------------------------------------------------------


def parse_node(path: Path, loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> yaml.Node | None:
    """The node tree of ``path`` (None for an empty file), which knows every line.

    Raises ``OSError`` and ``UnicodeDecodeError`` as is (callers word them), and
    :class:`YamlSyntaxError` for a syntax error.
    """
    text = path.read_text(encoding="utf-8")
    parser = loader(text)
    try:
        return parser.get_single_node()
    except yaml.YAMLError as exc:
        raise _syntax_error(path, exc) from None
    finally:
        parser.dispose()


def build(
    path: Path, node: yaml.Node | None, loader: type[yaml.SafeLoader] = yaml.SafeLoader
) -> Located:
    """The Python values of ``node`` with their lines. A constructor's refusal (a duplicated key
    for a strict loader) is a :class:`YamlSyntaxError`; a value YAML cannot build (2025-02-30)
    stays a ``ValueError``, for the callers that point at it themselves."""
    located = Located(path=path, data=None)
    if node is None:
        return located
    constructor = loader("")
    try:
        located.data = constructor.construct_document(node)
    except yaml.YAMLError as exc:
        raise _syntax_error(path, exc) from None
    finally:
        constructor.dispose()
    _walk(node, (), located.lines)
    return located


def load_located(path: Path, loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> Located:
    """Parse once, keeping the node tree for the lines; ``loader`` may be stricter than
    ``SafeLoader`` (the indicator parameters read decimals exactly). File errors are raised as
    is: :func:`read_yaml` words them."""
    return build(path, parse_node(path, loader), loader)


def read_yaml(path: Path, loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> Located:
    """:func:`load_located`, every failure being a French :class:`YamlFileError` that names the
    file (and the line where there is one)."""
    path = Path(path)
    try:
        node = parse_node(path, loader)
    except FileNotFoundError:
        raise YamlFileError(
            f"{path} : fichier introuvable : vérifier le chemin et le nom du fichier"
        ) from None
    except IsADirectoryError:
        raise YamlFileError(f"{path} : c'est un dossier, un fichier YAML est attendu") from None
    except OSError as exc:
        reason = f" ({exc.strerror})" if exc.strerror else ""
        raise YamlFileError(
            f"{path} : fichier illisible{reason} : vérifier ses droits de lecture"
        ) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise YamlFileError(
            f"{path.name}, ligne {line} : fichier illisible : encodage UTF-8 attendu "
            "(l'enregistrer en UTF-8)"
        ) from None
    try:
        return build(path, node, loader)
    except YamlSyntaxError:
        raise
    except ValueError:
        found = _impossible_date(node)
        where, what = (
            (found[0], f"date impossible : {found[1]}") if found else (1, "valeur illisible")
        )
        raise YamlFileError(f"{path.name}, ligne {where} : {what}") from None


def _impossible_date(node: yaml.Node | None) -> tuple[int, str] | None:
    """The line and text of the first date YAML cannot build (2025-02-30): the one
    ``ValueError`` a safe loader raises without saying where."""
    if isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        if node is not None and node.tag == "tag:yaml.org,2002:timestamp":
            try:
                yaml.constructor.SafeConstructor().construct_yaml_timestamp(node)
            except ValueError:
                return node.start_mark.line + 1, str(node.value)
        return None
    for child in children:
        found = _impossible_date(child)
        if found is not None:
            return found
    return None


def _walk(node: yaml.Node, prefix: tuple[str | int, ...], lines: dict) -> None:
    lines[prefix] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = prefix + (key_node.value,)
            _walk(value_node, key, lines)
            lines[key] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, prefix + (index,), lines)


# --- validation: pydantic's errors in French ----------------------------------------------------

_IDENTIFIER = "lettres minuscules, chiffres et _, en commençant par une lettre"


@dataclass(frozen=True)
class Vocabulary:
    """What a kind of file calls its keys, for messages a DPO recognizes: ``missing`` names what
    a missing key is ("base légale manquante"), ``formats`` what a pattern means, ``choices``
    the values a key admits (by default, pydantic's)."""

    missing: Mapping[str, str] = field(default_factory=dict)
    formats: Mapping[str, str] = field(default_factory=dict)
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


PLAIN = Vocabulary(formats={"id": _IDENTIFIER})


def dotted(loc: tuple[str | int, ...]) -> str:
    """``('datasets', 0, 'fields', 'NIR')`` -> ``datasets[0].fields.NIR``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _expected(ctx: Mapping[str, Any]) -> str:
    """pydantic's ``'a', 'b' or 'c'`` as ``a, b, c``."""
    text = str(ctx.get("expected", ""))
    quoted = re.findall(r"'([^']*)'", text)
    return ", ".join(quoted) if quoted else text.replace(" or ", ", ")


def french_rule(error: Mapping[str, Any], vocabulary: Vocabulary = PLAIN) -> str:
    """One pydantic error as a French sentence naming the key's path; never pydantic's text."""
    loc = tuple(error["loc"])
    names = [part for part in loc if isinstance(part, str)]
    last = names[-1] if names else ""
    path = dotted(loc)
    value = error.get("input")
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if value is None and kind.endswith("_type"):  # "key:" written with nothing after it
        return f"valeur vide pour {path}"
    if kind == "missing":
        return f"{vocabulary.missing.get(last, 'clé obligatoire manquante')} ({path})"
    if kind == "extra_forbidden":
        return f"clé inconnue « {last} » ({path})"
    if kind == "literal_error":
        choices = ", ".join(vocabulary.choices[last]) if last in vocabulary.choices else None
        return f"valeur « {value} » non admise pour {path} (attendu : {choices or _expected(ctx)})"
    if kind.startswith("date_"):
        return f"date invalide pour {path} : « {value} » (attendu AAAA-MM-JJ)"
    if kind.startswith("int_"):
        return f"nombre entier attendu pour {path} : « {value} »"
    if kind.startswith(("float_", "decimal_")):
        return f"nombre attendu pour {path} : « {value} »"
    if kind.startswith("bool_"):
        return f"true ou false attendu pour {path} : « {value} »"
    if kind == "string_type":
        return f"texte attendu pour {path}"
    if kind == "string_too_short":
        return f"texte vide pour {path}"
    if kind == "string_pattern_mismatch":
        wanted = vocabulary.formats.get(last) or f"motif {ctx.get('pattern', '?')}"
        return f"format invalide pour {path} : « {value} » (attendu : {wanted})"
    if kind in ("list_type", "tuple_type", "set_type"):
        return f"liste attendue pour {path}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"table de clés attendue pour {path or 'le fichier'}"
    if kind == "too_short":
        return f"au moins un élément attendu pour {path}"
    if kind == "too_long":
        return f"au plus {ctx.get('max_length')} élément(s) pour {path}"
    if kind == "greater_than_equal":
        return f"{path} : {value} est inférieur au minimum {ctx.get('ge')}"
    if kind == "greater_than":
        return f"{path} : {value} doit être supérieur à {ctx.get('gt')}"
    if kind == "less_than_equal":
        return f"{path} : {value} est supérieur au maximum {ctx.get('le')}"
    if kind == "less_than":
        return f"{path} : {value} doit être inférieur à {ctx.get('lt')}"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        # the project's own validators speak French already
        return f"{path or 'fichier'} : {ctx['error']}"
    return f"valeur refusée pour {path or 'le fichier'} (règle « {kind} »)"


def without_echoes(errors: list[Any]) -> list[Any]:
    """Drop "too short" errors that only echo an invalid item (pydantic reports both)."""
    locs = [tuple(error["loc"]) for error in errors]

    def echoes(error: Any) -> bool:
        loc = tuple(error["loc"])
        return error["type"] == "too_short" and any(
            other != loc and other[: len(loc)] == loc for other in locs
        )

    return [error for error in errors if not echoes(error)]


def check(
    located: Located, model: type[M], vocabulary: Vocabulary = PLAIN
) -> tuple[M | None, list[YamlProblem]]:
    """``located`` validated against ``model``: the instance, or every problem, each on the
    line of the key it is about (a missing key: on the key of the table it is missing from)."""
    file = located.path.name
    if located.data is None:
        return None, [YamlProblem(file, 1, "fichier vide")]
    try:
        return model.model_validate(located.data), []
    except ValidationError as exc:
        errors = without_echoes(exc.errors())
    return None, [
        YamlProblem(file, located.line_of(*error["loc"]), french_rule(error, vocabulary))
        for error in errors
    ]


@overload
def load_yaml(
    path: Path,
    model: None = None,
    *,
    loader: type[yaml.SafeLoader] = ...,
    vocabulary: Vocabulary = ...,
) -> Any: ...
@overload
def load_yaml(
    path: Path,
    model: type[M],
    *,
    loader: type[yaml.SafeLoader] = ...,
    vocabulary: Vocabulary = ...,
) -> M: ...
def load_yaml(
    path: Path,
    model: type[BaseModel] | None = None,
    *,
    loader: type[yaml.SafeLoader] = yaml.SafeLoader,
    vocabulary: Vocabulary = PLAIN,
) -> Any:
    """The content of ``path``, validated by ``model`` when one is given.

    Every failure is a :class:`YamlFileError` in French: a missing or unreadable file (its
    path), a syntax error (file, line, column), and each rule of ``model`` broken (file, line
    of the key, path of the key, the rule), all problems of the file together.
    """
    located = read_yaml(Path(path), loader)
    if model is None:
        return located.data
    instance, problems = check(located, model, vocabulary)
    if problems:
        raise YamlFileError("\n".join(map(str, problems)), [str(p) for p in problems])
    return instance
