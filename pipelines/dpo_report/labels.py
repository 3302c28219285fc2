"""French words for the ids the pipeline writes: the DPO reads the report, not the code.

Every id not listed here is shown as it is (escaped): a new event kind or rule added by another
part of the pipeline still appears, only without a translation.
"""

from __future__ import annotations

from recours.errors import REFUSAL_RULES

CATEGORIES = {
    "direct_identifier": "identifiant direct",
    "quasi_identifier": "quasi-identifiant",
    "attribute": "attribut",
    "free_text": "texte libre",
}

TREATMENTS = {
    "pseudonymize": "pseudonymisé",
    "generalize": "généralisé",
    "keep": "conservé",
    "drop": "supprimé",
    "redact": "expurgé",
}

CONVENTION_STATES = {
    "en_vigueur": "en vigueur",
    "expire_bientot": "expire dans moins de 60 jours",
    "expiree": "expirée",
    "pas_encore_en_vigueur": "pas encore en vigueur",
}

DELIVERY_STATES = {
    "acceptee": "acceptée",
    "refusee": "refusée",
    "en_echec": "ingestion en échec",
    "recue": "reçue, sans suite au journal",
}

DISCLOSURE_VERDICTS = {"conforme": "conforme", "refusee": "refusée"}

EVENTS = {
    "livraison_recue": "livraison reçue",
    "livraison_acceptee": "livraison acceptée",
    "livraison_refusee": "livraison refusée",
    "ingestion_en_echec": "ingestion en échec (erreur technique)",
    "croisement_publie": "croisement et publication",
    "publication": "publication (verdict de l'audit de divulgation)",
    "publication_non_installee": "publication journalisée mais non mise en place (erreur disque)",
    "livraison_redeposee": "livraison redéposée (même contenu qu'une livraison déjà traitée)",
    "purge": "purge (conservation)",
    "changement_de_cle": "changement de clé de pseudonymisation",
    "convention_ajoutee": "convention ajoutée",
    "convention_modifiee": "convention modifiée",
    "convention_expiree": "convention expirée",
    "echec_tache": "échec d'une tâche Airflow",
    "rupture_detectee": "perte d'événements constatée dans le journal",
    "rupture_acquittee": "rupture du journal acquittée",
}

ROW_RULES = {
    "obligatoire": "champ obligatoire vide",
    "format": "forme attendue non respectée",
    "valeurs_autorisees": "valeur hors liste",
    "entier": "entier illisible",
    "decimal": "montant illisible",
    "minimum": "nombre sous le minimum",
    "date_format": "date mal formée",
    "date_possible": "date impossible",
    "commune_format": "code commune mal formé",
    "commune_inconnue": "commune inconnue",
    "nombre_de_champs": "nombre de champs incorrect",
    "nir_format": "NIR mal formé",
    "nir_cle": "clé du NIR fausse",
    "hors_departement": "résidence hors Haute-Garonne",
}

PII_KINDS = {  # anonymization.pii_scan.PII_KINDS
    "NIR": "NIR",
    "TELEPHONE": "téléphone",
    "EMAIL": "courriel",
    "IBAN": "IBAN",
    "NUMERO_CAF": "numéro d'allocataire CAF",
    "IDENTIFIANT_FT": "identifiant France Travail",
    "PERSONNE": "nom de personne",
}

ZONES = {"landing": "fichiers bruts (landing/, quarantine/)", "pseudonymized": "pseudonymisé"}


def label(table: dict[str, str], key: str | None) -> str:
    """The French label of ``key``, or the key itself when the table does not know it."""
    if key is None:
        return ""
    return table.get(key, key)


def refusal_label(rule: str | None) -> str:
    return label(REFUSAL_RULES, rule)
