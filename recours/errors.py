"""Exceptions that carry what a user needs to act, never a value read from a file."""

from __future__ import annotations


class RecoursError(Exception):
    """Base class: every error the pipeline raises on purpose, with a French message."""


# Every reason a whole delivery can be refused: the stable ids the audit log, the quarantine
# reason files and docs/ingestion.md use (a test fails when one is undocumented).
REFUSAL_RULES = {
    "fichier_vide": "fichier de 0 octet, ou sans rien d'autre que des blancs",
    "fichier_sans_donnees": "la ligne d'en-tête seule, aucune donnée",
    "gzip_illisible": "archive .gz corrompue ou tronquée",
    "encodage": "octets impossibles dans l'encodage annoncé par le dessin",
    "en_tete": "en-tête absent, méconnaissable ou avec des colonnes en double",
    "colonne_manquante": "une colonne du dessin manque (absente ou renommée)",
    "fichier_tronque": "dernière ligne incomplète sans fin de ligne : transfert coupé",
    "classeur_illisible": "classeur Excel illisible",
    "feuille_absente": "la feuille du dessin manque dans le classeur",
    "somme_controle": "le fichier ne correspond pas à sa somme .sha256",
    "nom_de_fichier": "nom de fichier qui ne correspond à aucun jeu de données de la convention",
    "convention_absente": "aucune convention pour ce dossier de landing/",
    "convention_hors_validite": "convention pas en vigueur à la date d'extraction",
    "trop_de_lignes_invalides": "plus de lignes invalides que le maximum du dessin",
}


class DeliveryRefused(RecoursError):
    """A delivery breaks a delivery-level rule: it goes to quarantine, intact.

    ``rule`` is a stable identifier (for the audit log and tests); ``message`` is the French
    sentence for the data team, naming the file and, where it applies, the line and column.
    """

    def __init__(
        self, rule: str, message: str, line: int | None = None, column: str | None = None
    ) -> None:
        if rule not in REFUSAL_RULES:
            raise ValueError(f"motif de refus non répertorié : {rule}")
        super().__init__(message)
        self.rule, self.message, self.line, self.column = rule, message, line, column
