"""French recognizers and the offline NLP engine behind the PII scanner (`pii_scan`).

presidio ships no recognizer for French identifiers and, left to its defaults, would load an
English spaCy model (downloading it when missing) and let `tldextract` fetch the public suffix
list over the network. Personal data run on a closed machine (docs/architecture.md, invariant 6), so
everything here is built explicitly: a spaCy engine that refuses to download, and recognizers
for language ``"fr"`` only.

Importing this module sets ``TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS`` to empty (unless already set)
*before* presidio is imported; the e-mail recognizer also uses its own extractor built with no
URL and no disk cache, so it works offline even if `tldextract` was imported earlier by someone
else. `pii_scan` imports presidio only through this module, for that reason.

`build_analyzer` assembles the engine; `analyze_batch` and `analyze_without_ner` are the two
ways `pii_scan` runs it (spaCy batched, or skipped for values that cannot hold a name).
"""

from __future__ import annotations

import os

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

import logging  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import cast  # noqa: E402

import regex as re  # noqa: E402  (presidio's regex engine; imported after the env guard)
import spacy  # noqa: E402
import spacy.util  # noqa: E402
import tldextract  # noqa: E402
from presidio_analyzer import (  # noqa: E402
    AnalyzerEngine,
    BatchAnalyzerEngine,
    EntityRecognizer,
    LemmaContextAwareEnhancer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.nlp_engine import (  # noqa: E402
    NlpArtifacts,
    NlpEngineProvider,
    SpacyNlpEngine,
)
from presidio_analyzer.predefined_recognizers import (  # noqa: E402
    EmailRecognizer,
    IbanRecognizer,
    PhoneRecognizer,
    SpacyRecognizer,
)
from spacy.language import Language  # noqa: E402
from spacy.tokens import Doc  # noqa: E402
from stdnum.fr import nir as stdnum_nir  # noqa: E402

LANGUAGE = "fr"
SPACY_MODEL = "fr_core_news_sm"

# presidio entity names produced by the recognizers below.
ENTITY_NIR = "FR_NIR"
ENTITY_PHONE = "PHONE_NUMBER"
ENTITY_EMAIL = "EMAIL_ADDRESS"
ENTITY_IBAN = "IBAN_CODE"
ENTITY_CAF = "FR_NUMERO_CAF"
ENTITY_FT = "FR_IDENTIFIANT_FT"
ENTITY_PERSON = "PERSON"

# Findings scoring below this are dropped (AnalyzerEngine.default_score_threshold). Pattern
# scores are set relative to it: a bare 7-digit number (possible CAF matricule) starts below
# and only crosses it with a context word; everything else starts at or above it.
MIN_SCORE = 0.4

# spaCy's French NER labels (WikiNER scheme) -> presidio entities. Only persons matter here:
# places and organisations are not direct identifiers, and MISC is mostly noise on codes.
NLP_CONFIGURATION: dict = {
    "nlp_engine_name": "spacy",
    "models": [{"lang_code": LANGUAGE, "model_name": SPACY_MODEL}],
    "ner_model_configuration": {
        "model_to_presidio_entity_mapping": {
            "PER": ENTITY_PERSON,
            "LOC": "LOCATION",
            "ORG": "ORGANIZATION",
            "MISC": "MISC",
        },
        "labels_to_ignore": ["LOC", "ORG", "MISC", "LOCATION", "ORGANIZATION"],
        "low_score_entity_names": [],
    },
}


# Only the NER of fr_core_news_sm is run: it has its own tok2vec, and the tagger, parser and
# lemmatizer would more than double the time per value for nothing we use but lemmas.
EXCLUDED_COMPONENTS = (
    "tok2vec",
    "morphologizer",
    "parser",
    "senter",
    "attribute_ruler",
    "lemmatizer",
)
LOWERCASE_LEMMA = "recours_lowercase_lemma"


def _lowercase_lemma(doc: Doc) -> Doc:
    """Use the lowercased form as lemma: presidio matches context words against lemmas."""
    for token in doc:
        token.lemma_ = token.lower_
    return doc


if not Language.has_factory(LOWERCASE_LEMMA):
    Language.component(LOWERCASE_LEMMA, func=_lowercase_lemma)


class ModelMissingError(RuntimeError):
    """The French spaCy model is not installed: it is never downloaded at run time."""


class OfflineSpacyNlpEngine(SpacyNlpEngine):
    """presidio's spaCy engine, minus the silent `spacy download` of a missing model.

    `SpacyNlpEngine.load` calls `spacy.cli.download` when the model is not an installed
    package; on a closed machine that is at best a hang, at worst a leak of intent. Here a
    missing model is a clear error instead. Same `engine_name`, so `NlpEngineProvider` builds
    it from the ordinary configuration dict.

    It also loads the NER alone (`EXCLUDED_COMPONENTS`), with lowercased forms standing in
    for lemmas: about 40 % faster on short notes, and on our samples as many persons found
    (a few more: 7 012 notes of 20 000 against 6 815 with the full pipeline). Context words
    are therefore matched on lowercased forms (as substrings, presidio's default), and
    written as stems ("allocat").
    """

    def load(self) -> None:
        pipelines: dict[str, Language] = {}
        self.nlp = pipelines  # type: ignore[assignment]  # presidio: unannotated `self.nlp = None`
        for model in self.models:
            self._validate_model_params(model)
            self._download_spacy_model_if_needed(model["model_name"])
            nlp = spacy.load(model["model_name"], exclude=list(EXCLUDED_COMPONENTS))
            nlp.add_pipe(LOWERCASE_LEMMA, last=True)
            pipelines[model["lang_code"]] = nlp

    @staticmethod
    def _download_spacy_model_if_needed(model_name: str) -> None:
        if not spacy.util.is_package(model_name):
            raise ModelMissingError(
                f"Le modèle spaCy « {model_name} » n'est pas installé dans l'environnement ; "
                "il n'est jamais téléchargé pendant l'exécution (aucun accès réseau). "
                "Installez le paquet du modèle (requirements.lock)."
            )


def _compact(text: str) -> str:
    return re.sub(r"[\s.\-]", "", text).upper()


class FrNirRecognizer(PatternRecognizer):
    """NIR (numéro de sécurité sociale), with or without separators, Corsica 2A/2B, NIA 7/8.

    The regex alone matches many 15-digit strings; a match only counts when its 2-digit key
    is right (python-stdnum `stdnum.fr.nir`), so a wrong-key number is not reported as a NIR.
    A 13-digit NIR written without its key cannot be told from any other number and is not
    reported either.
    """

    SEP = r"[ .\-]?"
    PATTERNS = [
        Pattern(
            "NIR (clé vérifiée)",
            r"(?<![\w])[1-478]"
            + SEP
            + r"\d{2}"
            + SEP
            + r"(?:0[1-9]|1[0-2]|[2-9]\d)"
            + SEP
            # département (2A/2B for Corsica), then commune, order number and key
            + r"(?:\d{2}|2[AB])"
            + SEP
            + r"\d{3}"
            + SEP
            + r"\d{3}"
            + SEP
            + r"\d{2}(?![\w])",
            0.5,
        )
    ]
    CONTEXT = ["nir", "sécurité", "securite", "sociale", "secu", "sécu", "insee", "ss"]

    def __init__(self) -> None:
        super().__init__(
            supported_entity=ENTITY_NIR,
            name="FrNirRecognizer",
            supported_language=LANGUAGE,
            patterns=list(self.PATTERNS),
            context=self.CONTEXT,
        )

    def validate_result(self, pattern_text: str) -> bool:
        return stdnum_nir.is_valid(_compact(pattern_text))


class FrCafNumberRecognizer(PatternRecognizer):
    """CAF matricule (NUMALLOC): 7 digits.

    Seven digits alone are too common in notes (amounts, file numbers) to count, so a match
    starts below `MIN_SCORE` and crosses it only with a context word nearby (or in the column
    name, which `pii_scan.scan_column` passes as context). A value that is nothing but seven
    digits is an identifier whatever its column, and counts on its own.
    """

    PATTERNS = [
        Pattern("7 chiffres (contexte requis)", r"\b\d{7}\b", 0.05),
        Pattern("valeur de 7 chiffres", r"\A\s*\d{7}\s*\Z", MIN_SCORE),
    ]
    # Stems, matched as substrings of the lowercased words around a match.
    CONTEXT = ["caf", "allocat", "matricul", "numalloc"]

    def __init__(self) -> None:
        super().__init__(
            supported_entity=ENTITY_CAF,
            name="FrCafNumberRecognizer",
            supported_language=LANGUAGE,
            patterns=list(self.PATTERNS),
            context=self.CONTEXT,
        )


class FrFranceTravailIdRecognizer(PatternRecognizer):
    """France Travail (ex-Pôle emploi) identifier: 7 digits then one capital letter.

    Case-sensitive, as the format is (presidio's default flags ignore case): any value holding
    one withholds its column, so the pattern stays as narrow as the format.
    """

    PATTERNS = [Pattern("7 chiffres + 1 lettre", r"\b\d{7}[A-Z]\b", 0.5)]
    CONTEXT = ["france", "travail", "pôle", "pole", "emploi", "identifiant", "demandeur", "ft"]

    def __init__(self) -> None:
        super().__init__(
            supported_entity=ENTITY_FT,
            name="FrFranceTravailIdRecognizer",
            supported_language=LANGUAGE,
            patterns=list(self.PATTERNS),
            context=self.CONTEXT,
            global_regex_flags=re.DOTALL | re.MULTILINE,
        )


class OfflineEmailRecognizer(EmailRecognizer):
    """presidio's e-mail recognizer, with a domain check that never touches the network.

    `EmailRecognizer.validate_result` uses the module-level `tldextract.extract`, whose suffix
    list may be fetched over HTTP (and cached on disk) unless the environment disabled it
    before `tldextract` was first imported. This extractor has no URL and no disk cache: it
    uses the snapshot bundled with `tldextract`.
    """

    def __init__(self) -> None:
        self._extractor = tldextract.TLDExtract(
            cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True
        )
        super().__init__(
            supported_language=LANGUAGE,
            context=["mail", "courriel", "email", "e-mail", "mèl", "adresse"],
            name="OfflineEmailRecognizer",
        )

    def validate_result(self, pattern_text: str) -> bool:
        return self._extractor(pattern_text).fqdn != ""


def build_recognizers() -> list[EntityRecognizer]:
    """All recognizers for French, one per PII kind."""
    return [
        FrNirRecognizer(),
        PhoneRecognizer(
            supported_language=LANGUAGE,
            supported_regions=("FR",),
            context=["tél", "tel", "téléphone", "telephone", "portable", "mobile", "appeler"],
            name="FrPhoneRecognizer",
        ),
        OfflineEmailRecognizer(),
        IbanRecognizer(
            supported_language=LANGUAGE,
            context=["iban", "rib", "bancaire", "banque", "compte"],
            name="IbanRecognizer",
        ),
        FrCafNumberRecognizer(),
        FrFranceTravailIdRecognizer(),
        SpacyRecognizer(
            supported_language=LANGUAGE,
            supported_entities=[ENTITY_PERSON],
            name="FrSpacyPersonRecognizer",
        ),
    ]


def build_registry() -> RecognizerRegistry:
    """A registry holding only our French recognizers (no predefined English ones)."""
    return RecognizerRegistry(recognizers=build_recognizers(), supported_languages=[LANGUAGE])


class _MaskArgs(logging.Filter):
    """Drop the arguments of presidio's log records: some are pieces of the scanned text.

    (`IbanRecognizer` logs a candidate it failed to validate; the context enhancer logs the
    words around a match at DEBUG.) The message template is kept, so the event stays visible.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = f"{record.msg} [arguments masqués]"
            record.args = None
        return True


def install_log_mask() -> None:
    """Attach `_MaskArgs` to presidio's logger, once."""
    logger = logging.getLogger("presidio-analyzer")
    if not any(isinstance(f, _MaskArgs) for f in logger.filters):
        logger.addFilter(_MaskArgs())


def build_analyzer() -> AnalyzerEngine:
    """A French, offline analyzer (uncached: `pii_scan.get_analyzer` keeps one per process).

    The spaCy engine comes from `NlpEngineProvider` and `NLP_CONFIGURATION`, restricted to
    `OfflineSpacyNlpEngine` so that a missing model is an error, never a download.
    """
    install_log_mask()
    provider = NlpEngineProvider(
        nlp_engines=(OfflineSpacyNlpEngine,), nlp_configuration=NLP_CONFIGURATION
    )
    return AnalyzerEngine(
        registry=build_registry(),
        nlp_engine=provider.create_engine(),
        supported_languages=[LANGUAGE],
        default_score_threshold=MIN_SCORE,
        # presidio's defaults (substring match, five words before a match), plus two words
        # after it, for "1234567 (n° allocataire)".
        context_aware_enhancer=LemmaContextAwareEnhancer(
            context_prefix_count=5, context_suffix_count=2, context_matching_mode="substring"
        ),
    )


def analyze_batch(
    analyzer: AnalyzerEngine,
    texts: Sequence[str],
    context: list[str] | None = None,
    entities: list[str] | None = None,
    batch_size: int = 256,
) -> list[list[RecognizerResult]]:
    """All recognizers on many texts, the spaCy pass batched (`BatchAnalyzerEngine`)."""
    if not texts:
        return []
    return BatchAnalyzerEngine(analyzer_engine=analyzer).analyze_iterator(
        list(texts),
        language=LANGUAGE,
        batch_size=batch_size,
        context=context,
        entities=entities,
    )


def analyze_without_ner(
    analyzer: AnalyzerEngine, text: str, context: list[str] | None = None
) -> list[RecognizerResult]:
    """The pattern recognizers alone, on tokenizer-only NLP artifacts.

    For texts that cannot hold a name (`pii_scan` decides which): the spaCy NER, about a
    millisecond a value, is skipped. Lemmas are the lowercased forms, as in the full
    pipeline, so context words still count.
    """
    # Every analyzer here comes from build_analyzer, whose provider builds spaCy engines only.
    engine = cast(SpacyNlpEngine, analyzer.nlp_engine)
    doc = engine.get_nlp(LANGUAGE).make_doc(text)
    artifacts = NlpArtifacts(
        entities=[],
        tokens=doc,
        tokens_indices=[token.idx for token in doc],
        lemmas=[token.lower_ for token in doc],
        nlp_engine=engine,
        language=LANGUAGE,
        scores=[],
    )
    return analyzer.analyze(text=text, language=LANGUAGE, nlp_artifacts=artifacts, context=context)
