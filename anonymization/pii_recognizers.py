"""French recognizers and the offline NLP engine behind the PII scanner (`pii_scan`).

presidio ships no recognizer for French identifiers and, left to its defaults, would load an
English spaCy model (downloading it when missing) and let `tldextract` fetch the public suffix
list over the network. Personal data run on a closed machine (DESIGN.md, invariant 6), so
everything here is built explicitly: a spaCy engine that refuses to download, and recognizers
for language ``"fr"`` only.

Importing this module sets ``TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS`` to empty (unless already set)
*before* presidio is imported; the e-mail recognizer also uses its own extractor built with no
URL and no disk cache, so it works offline even if `tldextract` was imported earlier by someone
else.
"""

from __future__ import annotations

import os

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

import regex as re  # noqa: E402  (presidio's regex engine; imported after the env guard)
import spacy.util  # noqa: E402
import tldextract  # noqa: E402
from presidio_analyzer import (  # noqa: E402
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
)
from presidio_analyzer.nlp_engine import SpacyNlpEngine  # noqa: E402
from presidio_analyzer.predefined_recognizers import (  # noqa: E402
    EmailRecognizer,
    IbanRecognizer,
    PhoneRecognizer,
    SpacyRecognizer,
)
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


class ModelMissingError(RuntimeError):
    """The French spaCy model is not installed: it is never downloaded at run time."""


class OfflineSpacyNlpEngine(SpacyNlpEngine):
    """presidio's spaCy engine, minus the silent `spacy download` of a missing model.

    `SpacyNlpEngine.load` calls `spacy.cli.download` when the model is not an installed
    package; on a closed machine that is at best a hang, at worst a leak of intent. Here a
    missing model is a clear error instead. Same `engine_name`, so `NlpEngineProvider` builds
    it from the ordinary configuration dict.
    """

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
    CONTEXT = ["caf", "allocataire", "allocataires", "matricule", "numalloc", "alloc"]

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

    Case-sensitive on purpose (presidio's default flags ignore case): ``1234567a`` is rarer
    in real files than a lowercase unit stuck to a number.
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

    _extractor = tldextract.TLDExtract(
        cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True
    )

    def __init__(self) -> None:
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
