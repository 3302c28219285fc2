"""Social workers' notes (CD31 ``OBSERVATIONS``): the free text that must never leave landing/.

Real notes are full of what a privacy check must catch: the person's and relatives' names,
phone numbers in every spelling, e-mail addresses, the NIR (often with spaces), street
addresses, and health details (special-category data). They run over several lines and hold
``;`` and quotes, which the CSV writer must quote. Each note is assembled from a few sentences
chosen by a per-line random number, so the same seed gives the same notes.
"""

from __future__ import annotations

from dataclasses import dataclass

SITUATIONS = (
    "Demande d'aide financière pour un impayé de loyer (2 mois).",
    "Accompagnement budgétaire en cours ; dossier de surendettement déposé à la Banque de France.",
    "Orientation vers la CAF pour une ouverture de droits.",
    "Procédure d'expulsion locative en cours, audience au tribunal le {date2}.",
    "Violences conjugales signalées ; mise à l'abri en hébergement d'urgence.",
    "Recherche d'emploi, inscription à France Travail à refaire.",
    "Dossier APA : GIR 4, aide à domicile 12 h par mois.",
    "Demande de PCH déposée à la MDPH ; en attente de la CDAPH.",
    "Rupture de droits depuis la séparation ; plus de ressources déclarées.",
    "Factures d'énergie impayées : demande au FSL.",
)
HEALTH = (
    "diabète de type 2 insulino-dépendant",
    "dépression sévère, suivi au CMP",
    "cancer du sein en cours de traitement",
    "insuffisance cardiaque",
    "troubles bipolaires",
    "dépendance à l'alcool, sevrage en cours",
    "sclérose en plaques",
    "maladie d'Alzheimer débutante",
    "handicap moteur (fauteuil roulant)",
    "VIH, suivi au service des maladies infectieuses",
    "schizophrénie stabilisée sous traitement",
    "grossesse à risque (7e mois)",
    "BPCO sous oxygène",
)
HOSPITALS = (
    "au CHU Purpan",
    "au CHU Rangueil",
    "à l'hôpital Larrey",
    "à la clinique Pasteur",
    "à l'hôpital Marchant",
)
QUOTES = (
    "je n'y arrive plus",
    "elle ne mange plus",
    "on n'a plus rien ; le frigo est vide",
    "il ne veut voir personne",
    "j'ai peur de perdre le logement",
)
CHILD_OF, SPOUSE_OF, PARENT_OF = 0, 1, 2  # the relative is the person's child, spouse, parent
RELATIONS = {
    CHILD_OF: ("Sa fille", "Son fils"),
    SPOUSE_OF: ("Son épouse", "Son mari", "Sa compagne", "Son compagnon"),
    PARENT_OF: ("Sa mère", "Son père"),
}


@dataclass(frozen=True)
class NoteFacts:
    """What a social worker may write about one person."""

    civility: str
    surname: str
    given: str
    nir: str
    phone: str
    other_phone: str
    email: str
    address: str
    postal_code: str
    commune: str
    relative_given: str
    relation: int  # CHILD_OF, SPOUSE_OF or PARENT_OF
    relative_female: bool
    date: str
    date2: str


def note(facts: NoteFacts, draw: int) -> str:
    """Zero to four sentences on one or several lines."""
    count = (0, 1, 1, 2, 2, 3, 3, 4)[draw % 8]
    if count == 0:
        return ""
    pieces = []
    choice = draw >> 3
    candidates = [
        lambda: (
            f"Entretien avec {facts.civility} {facts.surname} {facts.given} le {facts.date}. "
            + SITUATIONS[choice % len(SITUATIONS)].format(date2=facts.date2)
        ),
        lambda: f"Tél. {facts.phone} ; joignable plutôt le matin.",
        lambda: f"Mail : {facts.email}",
        lambda: f"NIR communiqué par l'usager : {facts.nir}",
        lambda: f"Adresse : {facts.address}, {facts.postal_code} {facts.commune}",
        lambda: (
            f"Suivi médical : {HEALTH[choice % len(HEALTH)]} ; RDV "
            f"{HOSPITALS[(choice >> 4) % len(HOSPITALS)]} le {facts.date2}."
        ),
        lambda: _relative(facts, choice),
        lambda: (
            f"Problèmes de santé : {HEALTH[(choice >> 5) % len(HEALTH)]}. "
            f"Mme/M. {facts.surname} refuse l'hospitalisation."
        ),
    ]
    start = choice % len(candidates)
    for k in range(count):
        pieces.append(candidates[(start + 3 * k) % len(candidates)]())
    separator = "\n" if (draw >> 20) % 10 < 7 else " "
    return separator.join(pieces)


def _relative(facts: NoteFacts, choice: int) -> str:
    quote = QUOTES[(choice >> 2) % len(QUOTES)]
    if not facts.relative_given:
        return f'Une voisine ({facts.other_phone}) appelle : "{quote}".'
    labels = RELATIONS[facts.relation]
    relation = labels[
        (0 if facts.relative_female else 1) + (2 * (choice % 2) if len(labels) > 2 else 0)
    ]
    return f'{relation} {facts.relative_given} ({facts.other_phone}) appelle : "{quote}".'
