"""Scan text columns for personal data before they leave the landing zone.

After minimisation, every text column that a convention lets through is scanned here; a column
found to carry personal data is withheld (dropped) and reported to the DPO with counts by kind,
never a value (DESIGN.md, invariant 1). The privacy tests use the same functions on outputs.

Decision rule for withholding a column (`is_withheld`), applied to the DISTINCT non-blank
values scanned:

* **strong kinds** -- NIR (key checked), TELEPHONE, EMAIL, IBAN (checksum), IDENTIFIANT_FT --
  are precise enough that a single value carrying one withholds the column;
* **weak kinds** -- PERSONNE (spaCy's statistical NER) and NUMERO_CAF (7 digits, which need a
  context word or must be the whole value) -- misfire now and then on codes, so the column is
  withheld when at least `WEAK_MIN_VALUES` (2) distinct values carry the same weak kind AND
  they are at least `WEAK_MIN_SHARE` (5 %) of the distinct values scanned.

Calibration (tests/test_pii_scan.py): on the categorical columns conventions keep (QUALITE,
SITFAM, O/N flags, ACCOMPAGNEMENT, CATEGORIE, INDEMNISATION, type_css, INSEE codes, amounts,
integers, ISO dates, ages) the NER fires on at most one code per column ("ENF", "ARE"), so
none is withheld; a column of names or of social workers' notes has far more than 5 % of its
values with a person in them.

Why distinct values only: a file of 10^6 lines holds a few thousand distinct codes; the
spaCy pass costs about a millisecond per value, so each distinct value is scanned once, up to
`max_values`, and the finding says how many were scanned.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl
from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine, RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngineProvider

from anonymization import pii_recognizers as rec  # sets the offline env before presidio

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
# Identifiers checked by a key or a checksum: anything another recognizer finds inside one of
# their spans (a "phone" in an IBAN, a "person" in an e-mail) is part of it, not a second item.
_CONTAINING_ENTITIES = frozenset({rec.ENTITY_NIR, rec.ENTITY_IBAN, rec.ENTITY_EMAIL})

_PRESIDIO_LOGGER = "presidio-analyzer"


class PiiScanError(RuntimeError):
    """The scan failed; the message names the column, never a value."""


@dataclass(frozen=True)
class ColumnFinding:
    """What the scan found in one column: counts by kind, never a value.

    `counts` maps a kind of `PII_KINDS` to the number of distinct values where it was found;
    kinds not found are absent.
    """

    column: str
    scanned_values: int
    counts: dict[str, int]
    withheld: bool


class _MaskArgs(logging.Filter):
    """Drop the arguments of presidio's log records: some are pieces of the scanned text.

    (`IbanRecognizer` logs the candidate it failed to validate; the context enhancer logs the
    words around a match at DEBUG.) The message template is kept, so the event stays visible.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = f"{record.msg} [arguments masqués]"
            record.args = None
        return True


def _install_log_mask() -> None:
    logger = logging.getLogger(_PRESIDIO_LOGGER)
    if not any(isinstance(f, _MaskArgs) for f in logger.filters):
        logger.addFilter(_MaskArgs())


def build_analyzer() -> AnalyzerEngine:
    """Build a French, offline analyzer (uncached: use `get_analyzer`).

    The spaCy engine comes from `NlpEngineProvider` with our configuration dict, restricted
    to `OfflineSpacyNlpEngine` so a missing model is an error, never a download.
    """
    _install_log_mask()
    provider = NlpEngineProvider(
        nlp_engines=(rec.OfflineSpacyNlpEngine,), nlp_configuration=rec.NLP_CONFIGURATION
    )
    return AnalyzerEngine(
        registry=rec.build_registry(),
        nlp_engine=provider.create_engine(),
        supported_languages=[rec.LANGUAGE],
        default_score_threshold=rec.MIN_SCORE,
        # whole words: the substring default lets "caf" match "cafétéria"; two words after a
        # match as well as five before, for "1234567 (n° allocataire)".
        context_aware_enhancer=LemmaContextAwareEnhancer(
            context_prefix_count=5, context_suffix_count=2, context_matching_mode="whole_word"
        ),
    )


_analyzer: AnalyzerEngine | None = None
_analyzer_lock = threading.Lock()


def get_analyzer() -> AnalyzerEngine:
    """The process-wide analyzer, built on first use (loading spaCy takes seconds)."""
    global _analyzer
    with _analyzer_lock:
        if _analyzer is None:
            _analyzer = build_analyzer()
        return _analyzer


# --- one text -> counts ------------------------------------------------------------------


def _has_letter(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def _needs_recasing(text: str) -> bool:
    """All-capitals text with a word of 4+ letters (names: ``JEAN-PIERRE``, ``N'DIAYE``).

    The small French model finds almost no person in capitals (``DUPONT``: nothing) but half
    of them once re-cased (``Dupont``). Codes of 1-3 capitals (``ENF``, ``CJT``, ``O``) are
    left alone: re-cased, some of them read as first names.
    """
    if any(ch.islower() for ch in text):
        return False
    run = 0
    for ch in text:
        run = run + 1 if ch.isalpha() else 0
        if run >= 4:
            return True
    return False


def _recase(text: str) -> str:
    """``JEAN-PIERRE DE LA FONTAINE`` -> ``Jean-Pierre De La Fontaine``, same length."""
    out: list[str] = []
    previous_alpha = False
    for ch in text:
        if ch.isalpha():
            new = ch.lower() if previous_alpha else ch.upper()
            out.append(new if len(new) == 1 else ch)
            previous_alpha = True
        else:
            out.append(ch)
            previous_alpha = False
    return "".join(out)


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


def _context_words(column: str | None) -> list[str] | None:
    """A column name as context words: ``NUMALLOC_CAF`` -> ``["numalloc", "caf"]``."""
    if not column:
        return None
    words = [w for w in re.split(r"[\W_]+", column.lower()) if w]
    return words or None


def _tokens_only_artifacts(analyzer: AnalyzerEngine, text: str) -> NlpArtifacts:
    """NLP artifacts from the tokenizer alone, for a text with no letter.

    A text without letters holds no name and no context word, so the statistical pipeline
    (about a millisecond a value) is skipped; the pattern recognizers still run. Numeric
    columns (amounts, codes, dates) are then scanned at regex speed.
    """
    engine = analyzer.nlp_engine
    doc = engine.get_nlp(rec.LANGUAGE).make_doc(text)
    return NlpArtifacts(
        entities=[],
        tokens=doc,
        tokens_indices=[t.idx for t in doc],
        lemmas=[t.text for t in doc],
        nlp_engine=engine,
        language=rec.LANGUAGE,
        scores=[],
    )


def _analyze_all(texts: Sequence[str], context: list[str] | None) -> list[Counter[str]]:
    """Counts by kind for each text, in order. May raise anything presidio raises."""
    analyzer = get_analyzer()
    batch = BatchAnalyzerEngine(analyzer_engine=analyzer)
    counts: list[Counter[str]] = [Counter() for _ in texts]

    with_letters = [i for i, t in enumerate(texts) if _has_letter(t)]
    without_letters = [i for i, t in enumerate(texts) if not _has_letter(t)]

    for i in without_letters:
        results = analyzer.analyze(
            text=texts[i],
            language=rec.LANGUAGE,
            nlp_artifacts=_tokens_only_artifacts(analyzer, texts[i]),
            context=context,
        )
        counts[i] = _count_kinds(results)

    if with_letters:
        all_results = batch.analyze_iterator(
            [texts[i] for i in with_letters],
            language=rec.LANGUAGE,
            batch_size=NLP_BATCH_SIZE,
            context=context,
        )
        for i, results in zip(with_letters, all_results, strict=True):
            counts[i] = _count_kinds(results)

    recased = [i for i in with_letters if _needs_recasing(texts[i])]
    if recased:
        person_results = batch.analyze_iterator(
            [_recase(texts[i]) for i in recased],
            language=rec.LANGUAGE,
            batch_size=NLP_BATCH_SIZE,
            entities=[rec.ENTITY_PERSON],
        )
        for i, results in zip(recased, person_results, strict=True):
            persons = _count_kinds(results)["PERSONNE"]
            if persons > counts[i]["PERSONNE"]:
                counts[i]["PERSONNE"] = persons
    return counts


def _safe_analyze(texts: Sequence[str], column: str | None) -> list[Counter[str]]:
    """`_analyze_all`, with any failure re-raised without the text it failed on.

    presidio's own exceptions may quote the text (the context enhancer's "Did not find word
    ..."), so the original is not chained: the new error is raised outside the handler.
    """
    failure: str | None = None
    try:
        return _analyze_all(texts, _context_words(column))
    except Exception as exc:  # noqa: BLE001 -- re-raised below, without its message
        failure = type(exc).__name__
    where = f"de la colonne « {column} »" if column else "du texte"
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
    """The decision rule (module docstring): strong kind once, or weak kind in a share."""
    if any(counts.get(kind, 0) > 0 for kind in STRONG_KINDS):
        return True
    return any(
        counts.get(kind, 0) >= WEAK_MIN_VALUES
        and counts.get(kind, 0) >= WEAK_MIN_SHARE * scanned_values
        for kind in WEAK_KINDS
    )


def _distinct(values: Iterable[str | None], max_values: int) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value is None:
            continue
        text = value if isinstance(value, str) else str(value)
        if not text.strip() or text in seen:
            continue
        seen[text] = None
        if len(seen) >= max_values:
            break
    return list(seen)


def scan_column(
    name: str, values: Iterable[str | None], max_values: int = DEFAULT_MAX_VALUES
) -> ColumnFinding:
    """Scan the first `max_values` distinct non-blank values of a column.

    The column name is passed to presidio as context, so ``NUMALLOC`` makes its 7-digit
    values count as CAF matricules.
    """
    if max_values < 1:
        raise ValueError(f"max_values doit être au moins 1 (reçu : {max_values}).")
    distinct = _distinct(values, max_values)
    per_value = _safe_analyze(distinct, name) if distinct else []
    counts: Counter[str] = Counter()
    for found in per_value:
        counts.update(found.keys())
    ordered = _ordered(counts)
    return ColumnFinding(
        column=name,
        scanned_values=len(distinct),
        counts=ordered,
        withheld=is_withheld(ordered, len(distinct)),
    )


def scan_frame(
    df: pl.DataFrame,
    columns: Iterable[str] | None = None,
    max_values: int = DEFAULT_MAX_VALUES,
) -> list[ColumnFinding]:
    """Scan columns of a frame: its String columns by default, or those named (cast to text)."""
    if columns is None:
        names = [name for name, dtype in df.schema.items() if dtype == pl.String]
    else:
        names = list(columns)
        missing = [name for name in names if name not in df.columns]
        if missing:
            raise KeyError(f"Colonnes absentes du fichier : {', '.join(missing)}.")
    findings = []
    for name in names:
        series = df.get_column(name)
        if series.dtype != pl.String:
            try:
                series = series.cast(pl.String)
            except pl.exceptions.PolarsError:
                raise PiiScanError(
                    f"La colonne « {name} » (type {series.dtype}) ne peut pas être lue comme "
                    "du texte pour la recherche de données personnelles."
                ) from None
        distinct = series.drop_nulls().unique(maintain_order=True)
        findings.append(scan_column(name, distinct, max_values=max_values))
    return findings
