"""Scan text columns for personal data before they leave the landing zone.

After minimisation, every text column that a convention lets through is scanned here; a column
found to carry personal data is withheld (dropped) and reported to the DPO with counts by kind,
never a value (docs/architecture.md, invariant 1). The privacy tests use these functions on outputs.

Decision rule for withholding a column (`is_withheld`), on the DISTINCT non-blank values
scanned:

* **strong kinds** -- NIR (key checked), TELEPHONE, EMAIL, IBAN (checksum), IDENTIFIANT_FT --
  are precise enough that a single value carrying one withholds the column;
* **weak kinds** -- PERSONNE (spaCy's statistical NER) and NUMERO_CAF (7 digits, which need a
  context word, or the column name as context, or to be the whole value) -- misfire now and
  then on codes, so the column is withheld when at least `WEAK_MIN_VALUES` (2) distinct values
  carry the same weak kind AND they are at least `WEAK_MIN_SHARE` (5 %) of the distinct values
  scanned.

Calibration (tests/test_pii_scan.py): the categorical columns conventions keep (QUALITE,
SITFAM, O/N flags, ACCOMPAGNEMENT, CATEGORIE, INDEMNISATION, type_css, INSEE codes, amounts,
integers, ISO dates, ages) get no finding at all; columns of first names, surnames or full
names get a person in 45-80 % of their values, social workers' notes in about a third.
Place names are read as persons by the small model (a quarter of commune names), so a value
that is exactly the name of a commune, an EPCI or the département of the reference data is not
counted as a person: `libelle_territoire` in the published tables stays clean.

Distinct values only: a file of 10^6 lines holds a few thousand distinct codes, and the spaCy
pass costs about a millisecond a value; so each distinct value is scanned once, up to
`max_values`, and the finding says how many were scanned. Values that cannot hold a name (no
letter, or a single token mixing letters and digits, like a hex pseudonym) skip spaCy.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import importlib.resources
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from anonymization import pii_recognizers as rec  # sets the offline env, then imports presidio

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, RecognizerResult

PII_KINDS = ("NIR", "TELEPHONE", "EMAIL", "IBAN", "NUMERO_CAF", "IDENTIFIANT_FT", "PERSONNE")

STRONG_KINDS = frozenset({"NIR", "TELEPHONE", "EMAIL", "IBAN", "IDENTIFIANT_FT"})
WEAK_KINDS = frozenset({"PERSONNE", "NUMERO_CAF"})
WEAK_MIN_VALUES = 2
WEAK_MIN_SHARE = 0.05

DEFAULT_MAX_VALUES = 20_000
NLP_BATCH_SIZE = 256

_ENTITY_TO_KIND = {
    rec.ENTITY_NIR: "NIR",
    rec.ENTITY_PHONE: "TELEPHONE",
    rec.ENTITY_EMAIL: "EMAIL",
    rec.ENTITY_IBAN: "IBAN",
    rec.ENTITY_CAF: "NUMERO_CAF",
    rec.ENTITY_FT: "IDENTIFIANT_FT",
    rec.ENTITY_PERSON: "PERSONNE",
}
# Identifiers checked by a key or a checksum: what another recognizer finds inside one of
# their spans (a "phone" in an IBAN, a "person" in an e-mail) is part of it, not a second item.
_CONTAINING_ENTITIES = frozenset({rec.ENTITY_NIR, rec.ENTITY_IBAN, rec.ENTITY_EMAIL})

_WORD = re.compile(r"[^\W\d_]+")  # a run of letters
_SHORT_TEXT_WORDS = 5


class PiiScanError(RuntimeError):
    """The scan failed; the message names the column, never a value."""


@dataclass(frozen=True)
class ColumnFinding:
    """What the scan found in one column: counts by kind, never a value.

    `counts` maps a kind of `PII_KINDS` to the number of distinct values where it was found
    (kinds not found are absent); `scanned_values` is the number of distinct values scanned.
    """

    column: str
    scanned_values: int
    counts: dict[str, int]
    withheld: bool


_analyzer: AnalyzerEngine | None = None
_analyzer_lock = threading.Lock()


def get_analyzer() -> AnalyzerEngine:
    """The process-wide French offline analyzer, built on first use (spaCy takes seconds)."""
    global _analyzer
    with _analyzer_lock:
        if _analyzer is None:
            _analyzer = rec.build_analyzer()
        return _analyzer


# --- text preparation --------------------------------------------------------------------


def _may_hold_name(text: str) -> bool:
    """Whether spaCy's NER is worth running: a letter, and not one letters-and-digits token.

    A single token mixing letters and digits (hex pseudonym, ``2024-01-15T10:00``, an IBAN
    written solid) is no name; the pattern recognizers still see it.
    """
    if not any(ch.isalpha() for ch in text):
        return False
    solid = not any(ch.isspace() for ch in text.strip())
    return not (solid and any(ch.isdigit() for ch in text))


def _needs_recasing(text: str) -> bool:
    """Whether the person pass should also see a re-cased copy (`_recase`).

    The small French model finds almost no person in capitals (``DUPONT``: nothing) but about
    half of them once re-cased (``Dupont``). Re-casing applies to a text with a word of 4+
    capitals that is either all capitals (``JEAN-PIERRE MARTIN``) or short, as name cells are
    (``DUPONT Hélène``). Not to codes of 1-3 capitals (``ENF``, ``ARE`` re-cased read as first
    names), nor to long mixed-case notes, where acronyms (``CPAM``) would turn into names.
    """
    words = _WORD.findall(text)
    if not any(len(word) >= 4 and word.isupper() for word in words):
        return False
    return len(words) <= _SHORT_TEXT_WORDS or not any(ch.islower() for ch in text)


def _capitalize(word: str) -> str:
    if len(word) < 2 or not word.isupper():
        return word
    tail = "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in word[1:])
    return word[0] + tail


def _recase(text: str) -> str:
    """Words in capitals capitalized: ``DUPONT Hélène`` -> ``Dupont Hélène``, same length."""
    return _WORD.sub(lambda match: _capitalize(match.group()), text)


def _place_key(text: str) -> str:
    """``SAINT-GAUDENS`` and ``Saint Gaudens`` -> ``saint gaudens``."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(re.findall(r"[^\W_]+", bare))


@functools.cache
def _known_places() -> frozenset[str]:
    """Names of the communes, EPCI and département of the reference data shipped in `recours`.

    Missing reference files only mean no exemption (the scan then errs on the safe side).
    """
    names = {"Haute-Garonne", "Occitanie"}
    data = importlib.resources.files("recours") / "data"
    sources = (("communes_31.csv", ("nom", "epci_nom")), ("epci_31.csv", ("epci_nom",)))
    for file_name, columns in sources:
        try:
            with (data / file_name).open(encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    names.update(row[c] for c in columns if row.get(c))
        except (OSError, KeyError):
            continue
    return frozenset(_place_key(name) for name in names)


def _context_words(column: str | None) -> list[str] | None:
    """A column name as context words: ``NUMALLOC_CAF`` -> ``["numalloc", "caf"]``."""
    if not column:
        return None
    return [w for w in re.split(r"[\W_]+", column.lower()) if w] or None


# --- analysis ----------------------------------------------------------------------------


def _count_kinds(results: Sequence[RecognizerResult]) -> Counter[str]:
    containers = [r for r in results if r.entity_type in _CONTAINING_ENTITIES]
    counts: Counter[str] = Counter()
    for r in results:
        inside_other = any(
            c.entity_type != r.entity_type and c.start <= r.start and r.end <= c.end
            for c in containers
        )
        if not inside_other and r.entity_type in _ENTITY_TO_KIND:
            counts[_ENTITY_TO_KIND[r.entity_type]] += 1
    return counts


def _analyze_all(texts: Sequence[str], context: list[str] | None) -> list[Counter[str]]:
    """Counts by kind for each text, in order. May raise anything presidio raises."""
    analyzer = get_analyzer()
    counts: list[Counter[str]] = [Counter() for _ in texts]
    named = [i for i, text in enumerate(texts) if _may_hold_name(text)]
    named_set = set(named)

    for i, text in enumerate(texts):
        if i not in named_set:
            counts[i] = _count_kinds(rec.analyze_without_ner(analyzer, text, context))

    full = rec.analyze_batch(
        analyzer, [texts[i] for i in named], context=context, batch_size=NLP_BATCH_SIZE
    )
    for i, results in zip(named, full, strict=True):
        counts[i] = _count_kinds(results)

    recased = [i for i in named if _needs_recasing(texts[i])]
    persons_only = rec.analyze_batch(
        analyzer,
        [_recase(texts[i]) for i in recased],
        entities=[rec.ENTITY_PERSON],
        batch_size=NLP_BATCH_SIZE,
    )
    for i, results in zip(recased, persons_only, strict=True):
        persons = _count_kinds(results)["PERSONNE"]
        if persons > counts[i]["PERSONNE"]:
            counts[i]["PERSONNE"] = persons

    places = _known_places()
    for i in named:
        if "PERSONNE" in counts[i] and _place_key(texts[i]) in places:
            del counts[i]["PERSONNE"]
    return counts


def _safe_analyze(texts: Sequence[str], column: str | None) -> list[Counter[str]]:
    """`_analyze_all`, with any failure re-raised without the text it failed on.

    presidio's own exceptions may quote the text (the context enhancer's "Did not find word
    ..."), so the original is not chained: the new error is raised outside the handler.
    """
    failure = ""
    try:
        return _analyze_all(texts, _context_words(column))
    except Exception as exc:  # re-raised below, without its message
        failure = type(exc).__name__
    where = f"de la colonne « {column} »" if column else "d'un texte"
    raise PiiScanError(
        f"Échec de la recherche de données personnelles {where} ({failure}) ; "
        "le message d'origine n'est pas reproduit car il peut contenir une valeur."
    )


# --- public API --------------------------------------------------------------------------


def _ordered(counts: Counter[str]) -> dict[str, int]:
    return {kind: counts[kind] for kind in PII_KINDS if counts[kind] > 0}


def scan_text(text: str) -> dict[str, int]:
    """Kind -> number of findings in one text (kinds not found are absent)."""
    if not text or not text.strip():
        return {}
    return _ordered(_safe_analyze([text], None)[0])


def is_withheld(counts: dict[str, int], scanned_values: int) -> bool:
    """The decision rule (module docstring): a strong kind once, or a weak kind in a share."""
    if any(counts.get(kind, 0) > 0 for kind in STRONG_KINDS):
        return True
    return any(
        counts.get(kind, 0) >= max(WEAK_MIN_VALUES, WEAK_MIN_SHARE * scanned_values)
        for kind in WEAK_KINDS
    )


def _distinct(values: Iterable[str | None], max_values: int) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value is None:
            continue
        text = value if isinstance(value, str) else str(value)
        if text in seen or not text.strip():
            continue
        seen[text] = None
        if len(seen) >= max_values:
            break
    return list(seen)


def scan_column(
    name: str, values: Iterable[str | None], max_values: int = DEFAULT_MAX_VALUES
) -> ColumnFinding:
    """Scan the first `max_values` distinct non-blank values of a column.

    The column name is given to presidio as context, so the 7-digit values of a column named
    ``NUMALLOC`` count as CAF matricules.
    """
    if max_values < 1:
        raise ValueError(f"max_values doit valoir au moins 1 (reçu : {max_values}).")
    distinct = _distinct(values, max_values)
    counts: Counter[str] = Counter()
    if distinct:
        for found in _safe_analyze(distinct, name):
            counts.update(kind for kind, n in found.items() if n > 0)
    ordered = _ordered(counts)
    return ColumnFinding(
        column=name,
        scanned_values=len(distinct),
        counts=ordered,
        withheld=is_withheld(ordered, len(distinct)),
    )


def _as_text(df: pl.DataFrame, name: str) -> pl.Series:
    series = df.get_column(name)
    if series.dtype == pl.String:
        return series
    # A cast error may quote a value: suppressed, and the error below is not chained to it.
    with contextlib.suppress(pl.exceptions.PolarsError):
        return series.cast(pl.String)
    raise PiiScanError(
        f"La colonne « {name} » (type {series.dtype}) ne peut pas être lue comme du texte "
        "pour la recherche de données personnelles."
    )


def scan_frame(
    df: pl.DataFrame,
    columns: Iterable[str] | None = None,
    max_values: int = DEFAULT_MAX_VALUES,
) -> list[ColumnFinding]:
    """Scan a frame's String columns, or the columns named (cast to text), in that order."""
    if columns is None:
        names = [name for name, dtype in df.schema.items() if dtype == pl.String]
    else:
        names = list(columns)
        missing = [name for name in names if name not in df.columns]
        if missing:
            raise KeyError(f"Colonne(s) absente(s) : {', '.join(missing)}.")
    findings = []
    for name in names:
        distinct = _as_text(df, name).drop_nulls().unique(maintain_order=True)
        findings.append(scan_column(name, distinct, max_values=max_values))
    return findings


def redact_texts(texts: Sequence[str | None]) -> list[str | None]:
    """Each text with every span presidio finds replaced by ``[KIND]`` (``redact`` treatment).

    Names are also looked for on a re-cased copy (the small French model misses names in
    capitals); spans are replaced from the end so earlier offsets stay right. What this misses,
    the column scan that follows still catches, and then the whole column is withheld.
    """
    distinct = sorted({t for t in texts if t and t.strip()})
    analyzer = get_analyzer()
    try:
        found = rec.analyze_batch(analyzer, distinct, batch_size=NLP_BATCH_SIZE)
        persons = rec.analyze_batch(
            analyzer,
            [_recase(t) for t in distinct],
            entities=[rec.ENTITY_PERSON],
            batch_size=NLP_BATCH_SIZE,
        )
    except Exception as exc:  # presidio's message may quote the text
        failure = type(exc).__name__
    else:
        failure = ""
    if failure:
        raise PiiScanError(f"Échec du caviardage d'un texte libre ({failure})")
    redacted: dict[str, str] = {}
    for text, results, names in zip(distinct, found, persons, strict=True):
        spans = sorted(
            {
                (r.start, r.end, _ENTITY_TO_KIND[r.entity_type])
                for r in [*results, *names]
                if r.entity_type in _ENTITY_TO_KIND
            },
            reverse=True,
        )
        out, limit = text, len(text) + 1
        for start, end, kind in spans:
            if end <= limit:  # overlapping spans: the later-starting one already covers it
                out = out[:start] + f"[{kind}]" + out[end:]
                limit = start
        redacted[text] = out
    return [redacted.get(t, t) if t else t for t in texts]
