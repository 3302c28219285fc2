"""The register of conventions: the GDPR Article 30 record of this processing, from the YAML.

It is built from the very files the pipeline obeys, so the register cannot drift from what the
pipeline does. The DPO names of the conventions are left out on purpose: the report names no
person, and a DPO's name is a surname like any other (the synthetic population has the same
ones); the functional mailbox identifies the office, and the file under version control keeps
the name.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from pipelines.dpo_report.labels import CATEGORIES, CONVENTION_STATES, TREATMENTS, label
from recours.conventions import (
    REGISTER_KEYS,
    REPO_CONVENTIONS,
    Convention,
    ConventionError,
    crossing_authorized,
    load_conventions,
)

# The horizon: a convention that ends within this many days needs its renewal started.
EXPIRY_WARNING_DAYS = 60


def load_for_report(conventions_dir: Path | None) -> tuple[dict[str, Convention], list[str]]:
    """The conventions, or none and the problems: a wrong file must not hide the rest."""
    try:
        return load_conventions(conventions_dir or REPO_CONVENTIONS), []
    except ConventionError as exc:
        return {}, [str(problem) for problem in exc.problems]


def validity_state(convention: Convention, today: date) -> tuple[str, int]:
    """(state id, days until the last valid day; negative once expired)."""
    remaining = (convention.valid_to - today).days
    if remaining < 0:
        return "expiree", remaining
    if today < convention.valid_from:
        return "pas_encore_en_vigueur", remaining
    if remaining <= EXPIRY_WARNING_DAYS:
        return "expire_bientot", remaining
    return "en_vigueur", remaining


def _fields(convention: Convention) -> list[dict[str, Any]]:
    datasets = []
    for dataset in convention.datasets:
        fields = [
            {
                "nom": name,
                "categorie": rule.category,
                "categorie_libelle": label(CATEGORIES, rule.category),
                "traitement": rule.treatment,
                "traitement_libelle": label(TREATMENTS, rule.treatment),
                "produit": list(rule.to),
                "traits": rule.traits,
                "motif": rule.motif or "",
            }
            for name, rule in dataset.fields.items()
        ]
        matrix = Counter((f["categorie_libelle"], f["traitement_libelle"]) for f in fields)
        datasets.append(
            {
                "schema": dataset.schema_id,
                "champs": fields,
                "synthese": [
                    {"categorie": category, "traitement": treatment, "champs": count}
                    for (category, treatment), count in sorted(matrix.items())
                ],
                "colonnes_produites": dataset.output_columns(),
            }
        )
    return datasets


def _article_30(convention: Convention) -> dict[str, Any]:
    """The register entries beyond what the pipeline applies; None where the file is silent.

    None ("non renseigné") and an empty list ("aucun") are kept apart on purpose: only the
    second one is an answer.
    """
    c = convention
    assessment = c.impact_assessment
    return {
        "responsables_conjoints": None
        if c.joint_controllers is None
        else [{"nom": j.name, "role": j.role or ""} for j in c.joint_controllers],
        "personnes_concernees": None if c.data_subjects is None else list(c.data_subjects),
        "categories_donnees": None if c.data_categories is None else list(c.data_categories),
        "transferts_hors_ue": None
        if c.transfers_outside_eu is None
        else [
            {"destination": t.destination, "garanties": t.guarantees}
            for t in c.transfers_outside_eu
        ],
        "mesures_securite": None if c.security_measures is None else list(c.security_measures),
        "aipd": None
        if assessment is None
        else {
            "reference": assessment.reference,
            "date": assessment.approved_on.isoformat() if assessment.approved_on else None,
        },
        "sous_traitants": None
        if c.processors is None
        else [
            {"nom": p.name, "service": p.service, "lieu": p.location or ""} for p in c.processors
        ],
        "hebergement": None
        if c.hosting is None
        else {"nom": c.hosting.name, "lieu": c.hosting.location},
        "information": None if c.information is None else list(c.information),
        "opposition": None
        if c.objection is None
        else {"contact": c.objection.contact, "modalites": c.objection.procedure},
        "non_renseignes": [
            {"cle": key, "libelle": REGISTER_KEYS[key]} for key in c.missing_register_keys()
        ],
    }


def register_entry(
    convention: Convention, others: dict[str, Convention], today: date
) -> dict[str, Any]:
    """One convention as the Article 30 record lists it (JSON-safe)."""
    state, remaining = validity_state(convention, today)
    return {
        "id": convention.id,
        "titre": convention.title,
        "fournisseur": convention.parties.provider.name,
        "destinataire": convention.parties.recipient.name,
        "contact_dpo_fournisseur": convention.parties.provider.dpo.email,
        "contact_dpo_destinataire": convention.parties.recipient.dpo.email,
        "finalite": {"id": convention.purpose.id, "libelle": convention.purpose.label},
        "bases_rgpd": [
            {"article": b.article, "libelle": b.label} for b in convention.legal_basis.gdpr
        ],
        "textes_nationaux": [
            {"reference": t.reference, "libelle": t.label} for t in convention.legal_basis.national
        ],
        "signee_le": convention.signed_on.isoformat(),
        "valide_du": convention.valid_from.isoformat(),
        "valide_au": convention.valid_to.isoformat(),
        "etat": state,
        "etat_libelle": label(CONVENTION_STATES, state),
        "jours_restants": remaining,
        "jeux": _fields(convention),
        "conservation": {
            "brut_jours": convention.retention.raw_days,
            "pseudonymise_jours": convention.retention.pseudonymized_days,
        },
        "seuil_publication": convention.publication_threshold,
        "croisements": [
            {
                "convention": crossing.convention,
                "motif": crossing.motif or "",
                # both files must say so; the report shows a one-sided one as not in effect
                "reciproque": crossing.convention in others
                and crossing_authorized(convention, others[crossing.convention]),
            }
            for crossing in convention.authorized_crossings
        ],
        "destinataires": [
            {"nom": r.name, "recoit": r.receives, "motif": r.motif or ""}
            for r in convention.recipients
        ],
        "article_30": _article_30(convention),
    }


def register_facts(
    conventions: dict[str, Convention], problems: list[str], folder: Path | None, today: date
) -> dict[str, Any]:
    return {
        "dossier": (folder or REPO_CONVENTIONS).name,
        "problemes": problems,
        "seuil_alerte_jours": EXPIRY_WARNING_DAYS,
        "registre": [
            register_entry(conventions[cid], conventions, today) for cid in sorted(conventions)
        ],
    }
