"""Exceptions that carry what a user needs to act, never a value read from a file."""

from __future__ import annotations

import errno
import getpass
import re
import sys
from pathlib import Path


class RecoursError(Exception):
    """Base class: every error the pipeline raises on purpose, with a French message."""


class YamlFileError(RecoursError, ValueError):
    """A YAML file a person edits (convention, schema, catalogue, secret.yaml) cannot be used.

    Raised by ``recours.yamlfile``: one ``problems`` entry per fault, each « <fichier>, ligne
    <n> : <règle> » (or the path alone when the file cannot be read). A ``ValueError`` too, for
    the callers that caught the parser's errors as such.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems if problems is not None else [message]


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


# --------------------------------------------------------------------------------------------
# Failures nobody raised on purpose (a full disk, a read-only folder, a DuckDB I/O error): what
# ``recours`` prints instead of a traceback. Only the path and the kind of failure are shown:
# an unexpected exception's message could quote a value read from a partner file.
# --------------------------------------------------------------------------------------------

_QUOTED_PATH = re.compile(r'"(/[^"]+)"')


def _account() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name for this uid (a container): say nothing wrong
        return "de service"


def _where(path: str | None, home: Path | None) -> str:
    if path:
        return str(path)
    if home is not None:
        return f"un fichier du dossier de travail {home}"
    return "un fichier (chemin non précisé par le système)"


def _by_errno(code: int | None, where: str, home: Path | None, detail: str = "") -> str:
    folder = str(home) if home is not None else "le dossier de travail"
    if code in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"disque plein : impossible d'écrire {where}. Libérer de la place sur ce disque "
            f"(df -h {folder}), puis relancer : la publication précédente est restée en place, "
            "et les fichiers temporaires laissés sont supprimés par la prochaine exécution."
        )
    if code == errno.EROFS:
        return (
            f"système de fichiers en lecture seule : impossible d'écrire {where}. Le remonter "
            "en lecture-écriture, ou choisir un autre dossier de travail (--home, RECOURS_HOME), "
            "puis relancer."
        )
    if code in (errno.EACCES, errno.EPERM):
        return (
            f"accès refusé à {where} pour le compte {_account()} : donner à ce compte le droit "
            f"de lire et d'écrire le dossier de travail (chown ou chmod sur {folder}), puis "
            "relancer."
        )
    if code == errno.ENOENT:
        return (
            f"{where} n'existe pas (ou plus) : vérifier le dossier de travail (--home, "
            "RECOURS_HOME) et qu'aucun autre programme ne le déplace, puis relancer."
        )
    if code in (errno.ENOTDIR, errno.EISDIR):
        return (
            f"{where} : un fichier se trouve là où un dossier est attendu (ou l'inverse) : "
            "vérifier le dossier de travail (--home, RECOURS_HOME), puis relancer."
        )
    return (
        f"erreur d'entrée-sortie sur {where}{detail} : vérifier le disque, le montage et les "
        "droits du dossier de travail, puis relancer."
    )


def failure_message(exc: BaseException, home: Path | None = None) -> str:
    """The French message for an exception that is not a :class:`RecoursError`: what failed,
    on which path, and what to do. ``home`` is named when the system gives no path."""
    if isinstance(exc, OSError):
        where = _where(exc.filename, home)
        detail = f" ({exc.strerror})" if exc.strerror else ""
        return _by_errno(exc.errno, where, home, detail)
    if isinstance(exc, MemoryError):
        return (
            "mémoire insuffisante : fermer d'autres programmes ou lancer recours sur une machine "
            "qui a plus de mémoire, puis relancer."
        )
    duckdb = sys.modules.get("duckdb")
    if duckdb is not None and isinstance(exc, duckdb.IOException):
        text = str(exc)
        quoted = _QUOTED_PATH.search(text)
        where = _where(quoted.group(1) if quoted else None, home)
        if "Could not set lock" in text or "Conflicting lock" in text:
            return (
                f"{where} est ouvert en écriture par un autre programme (DBeaver, Python, une "
                "autre commande) : le fermer, puis relancer."
            )
        for needle, code in (
            ("No space left", errno.ENOSPC),
            ("Read-only file system", errno.EROFS),
            ("Permission denied", errno.EACCES),
            ("No such file", errno.ENOENT),
        ):
            if needle in text:
                return _by_errno(code, where, home)
        return _by_errno(None, where, home, " (DuckDB)")
    kind = type(exc).__name__
    return (
        f"erreur inattendue ({kind}) : rien n'a été publié à moitié, la publication précédente "
        "reste en place. Relancer avec « recours --debug … » pour voir la trace (elle peut "
        "citer des données : ne pas la diffuser), et la transmettre à l'équipe qui maintient "
        "recours."
    )
