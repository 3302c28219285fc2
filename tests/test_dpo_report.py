"""The DPO report (``recours audit``) and the journal check (``recours audit verify``).

One synthetic Haute-Garonne is ingested for real (with an over-delivered column, a set-aside
row and a refused file), crossed and published; the report is then written against a copy of
the conventions whose dates were edited (one expired, one expiring within 60 days), rendered in
headless Chromium, and searched for every identifier the generator planted and every pseudonym
the pipeline made.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from app.cli import cli
from pipelines.dpo_report import write_dpo_report
from recours.audit_log import append_event, journal_path
from recours.conventions import REPO_CONVENTIONS
from recours.errors import RecoursError
from recours.home import Home
from synth import synthesize

PERIOD = "2025-06"
TODAY = date(2025, 7, 15)
# cd31 ends on 2025-07-01 (expired on TODAY); ftocc on 2025-08-31, 47 days after TODAY.
EXPIRED, EXPIRING, EXPIRING_DAYS = "cd31", "ftocc", 47
EXTRA_COLUMN = "telephone_portable"
SECTIONS = (
    "alertes",
    "registre",
    "livraisons",
    "publications",
    "conservation",
    "droits",
    "journal",
    "chaine",
)


def _edit_validity(folder: Path, convention: str, valid_to: str) -> None:
    path = folder / f"{convention}.yaml"
    text = path.read_text(encoding="utf-8")
    text, count = re.subn(r"(?m)^valid_to: \S+", f"valid_to: {valid_to}", text)
    assert count == 1
    path.write_text(text, encoding="utf-8")


def _over_deliver(home: Path) -> None:
    """cpam31 sends one column its convention does not list."""
    path = home / "landing" / "cpam31" / "CPAM31_CSS_20250630.csv"
    lines = path.read_bytes().decode("utf-8-sig").splitlines()
    lines = [lines[0] + f";{EXTRA_COLUMN}"] + [line + ";" for line in lines[1:]]
    path.write_bytes(("\ufeff" + "\n".join(lines) + "\n").encode("utf-8"))


def _set_aside_one_row(home: Path) -> None:
    caf = home / "landing" / "caf31" / "CAF31_ALLOCATAIRES_20250630.csv"
    lines = caf.read_bytes().decode("cp1252").splitlines(keepends=True)
    fields = lines[5].split(";")
    fields[6] = "31/02/1980"  # impossible date: the row is set aside under date_possible
    lines[5] = ";".join(fields)
    caf.write_bytes("".join(lines).encode("cp1252"))


def _refuse_one(home: Path) -> None:
    cd31 = home / "landing" / "cd31" / "CD31_USAGERS_20250630.csv"
    cd31.with_name("CD31_USAGERS_20250531.csv").write_bytes(
        cd31.read_bytes().decode("utf-8").encode("cp1252", errors="replace")
    )  # wrong encoding: refused with rule "encodage"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """(home, conventions copy, planted identifiers): ingested, crossed, published."""
    from test_privacy import identifiers

    from pipelines.cycle import cross_and_publish
    from pipelines.ingest.run import ingest_all

    root = tmp_path_factory.mktemp("dpo")
    home = root / "home"
    synthesize(home, persons=1500, seed=21, period=PERIOD)
    _over_deliver(home)
    _set_aside_one_row(home)
    secret = identifiers(home / "landing")  # before the refused copy, unreadable on purpose
    _refuse_one(home)
    saved = {k: os.environ.get(k) for k in ("RECOURS_PSEUDO_KEY", "RECOURS_PSEUDO_KEY_FILE")}
    os.environ["RECOURS_PSEUDO_KEY"] = os.urandom(32).hex()
    os.environ.pop("RECOURS_PSEUDO_KEY_FILE", None)
    try:
        ingest_all(Home(home))
        # The disclosure gate may refuse so small a population: the journal says so, and the
        # report must show it either way.
        with contextlib.suppress(RecoursError):
            cross_and_publish(Home(home), PERIOD)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    conventions = root / "conventions"
    shutil.copytree(REPO_CONVENTIONS, conventions)
    _edit_validity(conventions, EXPIRED, "2025-07-01")
    _edit_validity(conventions, EXPIRING, "2025-08-31")
    return home, conventions, secret


@pytest.fixture
def report(scenario, tmp_path):
    """A fresh copy of the scenario's home, and its report: (home, html text, facts)."""
    source, conventions, _ = scenario
    home = tmp_path / "home"
    shutil.copytree(source, home, ignore=shutil.ignore_patterns("landing", "truth"))
    html, data = write_dpo_report(home, conventions, TODAY)
    assert (html, data) == (
        home / "audit" / "rapport_dpo.html",
        home / "audit" / "rapport_dpo.json",
    )
    return home, html.read_text(encoding="utf-8"), json.loads(data.read_text(encoding="utf-8"))


def _conventions(facts):
    return {entry["id"]: entry for entry in facts["conventions"]["registre"]}


def _delivery(facts, file_name):
    (found,) = [d for d in facts["livraisons"] if d["fichier"] == file_name]
    return found


def _tag(html: str, pattern: str) -> str:
    """The opening tag matching ``pattern`` (a regular expression), for exact class checks."""
    match = re.search(pattern, html)
    assert match, pattern
    return match.group(0)


# --- the register of conventions ----------------------------------------------------------


def test_expired_convention_is_red_and_expiring_one_is_flagged(report):
    _, html, facts = report
    entries = _conventions(facts)
    assert (entries[EXPIRED]["etat"], entries[EXPIRED]["jours_restants"]) == ("expiree", -14)
    assert (entries[EXPIRING]["etat"], entries[EXPIRING]["jours_restants"]) == (
        "expire_bientot",
        EXPIRING_DAYS,
    )
    assert {entries[c]["etat"] for c in ("caf31", "cpam31", "carsatmp")} == {"en_vigueur"}
    row = _tag(html, rf'<tr class="[^"]*" data-convention="{EXPIRED}">')
    assert row == f'<tr class="etat-expiree" data-convention="{EXPIRED}">'
    assert _tag(html, rf'<tr class="[^"]*" data-convention="{EXPIRING}">') == (
        f'<tr class="etat-expire_bientot" data-convention="{EXPIRING}">'
    )
    assert '<span class="etiquette">expirée</span>' in html
    assert (
        f'<span class="etiquette">expire dans moins de 60 jours</span> ({EXPIRING_DAYS} j)' in html
    )
    css = (Path(__file__).parent.parent / "pipelines/templates/rapport.css").read_text()
    assert "tr.etat-expiree td, article.etat-expiree .etiquette { color: var(--rouge); }" in css
    alerts = {(a["niveau"], a["texte"]) for a in facts["alertes"]}
    assert ("rouge", f"Convention {EXPIRED} expirée depuis le 2025-07-01") in alerts
    assert ("orange", f"Convention {EXPIRING} : expire le 2025-08-31 (dans 47 jours)") in alerts


def test_register_is_the_article_30_record(report):
    _, html, facts = report
    caf = _conventions(facts)["caf31"]
    assert caf["finalite"]["id"] == "tznr_non_recours"
    assert [b["article"] for b in caf["bases_rgpd"]] == ["6-1-e", "9-2-g"]
    assert caf["conservation"] == {"brut_jours": 30, "pseudonymise_jours": 395}
    assert caf["seuil_publication"] == 11
    assert {x["convention"]: x["reciproque"] for x in caf["croisements"]} == {
        "cpam31": True,
        "carsatmp": True,
        "ftocc": True,
        "cd31": True,
    }
    fields = {f["nom"]: (f["categorie"], f["traitement"]) for f in caf["jeux"][0]["champs"]}
    assert fields["NIR"] == ("direct_identifier", "pseudonymize")
    assert fields["ADRESSE"] == ("direct_identifier", "drop")
    assert caf["contact_dpo_fournisseur"] == "dpo@caf31.invalid"
    # the DPOs' names stay in the convention files: the report names no person
    for name in ("Carbonne", "Lasserre"):
        assert name not in html and name not in json.dumps(facts, ensure_ascii=False)


def test_register_gives_every_article_30_entry(report):
    _, html, facts = report
    caf = _conventions(facts)["caf31"]["article_30"]
    assert caf["non_renseignes"] == []
    assert (caf["responsables_conjoints"], caf["transferts_hors_ue"], caf["sous_traitants"]) == (
        [],
        [],
        [],
    )
    assert caf["aipd"] == {"reference": "AIPD-CD31-TZNR-2025-01", "date": "2024-11-28"}
    assert caf["hebergement"] == {
        "nom": "centre de données du Conseil départemental de la Haute-Garonne "
        "(serveurs du Département)",
        "lieu": "Toulouse (France)",
    }
    assert caf["personnes_concernees"][0] == "allocataires de la CAF résidant en Haute-Garonne"
    assert caf["categories_donnees"][-1] == (
        "donnée sensible (article 9 du RGPD) : le droit à l'AAH révèle un handicap"
    )
    assert caf["opposition"]["contact"] == "dpo@cd31.invalid"
    assert len(caf["mesures_securite"]) == 7 and len(caf["information"]) == 3
    article = html.split('id="convention-caf31"')[1].split("</article>")[0]
    assert (
        "<dt>Transferts hors de l'Union européenne</dt><dd>aucun transfert hors de l'Union "
        "européenne</dd>" in article
    )
    assert "<dt>Sous-traitants</dt><dd>aucun</dd>" in article
    assert "<dt>Responsables conjoints</dt><dd>aucun</dd>" in article
    assert (
        "<dt>Analyse d'impact (AIPD)</dt><dd>référence <code>AIPD-CD31-TZNR-2025-01</code>, "
        "validée le 28/11/2024</dd>" in article
    )
    assert "<dt>Hébergement</dt><dd>centre de données du Conseil départemental" in article
    assert 'class="non-renseigne"' not in html and "registre-incomplet" not in article
    assert not any("registre de l'article 30" in a["texte"] for a in facts["alertes"])


def test_register_flags_what_a_convention_leaves_out(tmp_path):
    folder = tmp_path / "conventions"
    shutil.copytree(REPO_CONVENTIONS, folder)
    path = folder / "caf31.yaml"
    text = path.read_text(encoding="utf-8")
    text, cuts = re.subn(r"(?ms)^(impact_assessment|hosting):.*?(?=^# )", "", text)
    assert cuts == 2
    path.write_text(text, encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    html_path, json_path = write_dpo_report(home, folder, TODAY)
    facts = json.loads(json_path.read_text(encoding="utf-8"))
    html = html_path.read_text(encoding="utf-8")
    entries = _conventions(facts)
    caf = entries["caf31"]["article_30"]
    assert (caf["aipd"], caf["hebergement"]) == (None, None)
    assert caf["non_renseignes"] == [
        {"cle": "impact_assessment", "libelle": "analyse d'impact (AIPD)"},
        {"cle": "hosting", "libelle": "hébergement"},
    ]
    assert all(not entries[c]["article_30"]["non_renseignes"] for c in entries if c != "caf31")
    article = html.split('id="convention-caf31"')[1].split("</article>")[0]
    for title, key in (
        ("Analyse d'impact (AIPD)", "impact_assessment"),
        ("Hébergement", "hosting"),
    ):
        assert (
            f'<dt>{title}</dt><dd class="non-renseigne"><strong class="orange">non renseigné'
            f"</strong> (clé <code>{key}</code> absente de la convention)</dd>"
        ) in article
    assert html.count('<dd class="non-renseigne">') == 2
    assert (
        '<p class="registre-incomplet"><span class="pastille">Registre incomplet</span> non '
        "renseigné dans la convention : analyse d&#39;impact (AIPD) (<code>impact_assessment"
        "</code>), hébergement (<code>hosting</code>).</p>"
    ) in article
    assert {
        "niveau": "orange",
        "texte": "Convention caf31 : registre de l'article 30 incomplet, non renseigné : "
        "analyse d'impact (AIPD) (impact_assessment), hébergement (hosting) ; compléter la "
        "convention",
    } in facts["alertes"]


# --- deliveries ------------------------------------------------------------------------------


def test_over_delivery_is_a_compliance_event(report):
    _, html, facts = report
    cpam = _delivery(facts, "CPAM31_CSS_20250630.csv")
    assert cpam["statut"] == "acceptee"
    assert cpam["champs"]["non_autorises"] == [EXTRA_COLUMN]
    assert cpam["champs"]["recus"][-1] == EXTRA_COLUMN
    assert EXTRA_COLUMN not in cpam["champs"]["gardes"]
    assert cpam["conformite"] == [
        "sur-livraison : 1 colonne(s) non prévue(s) par la convention reçue(s), supprimée(s) "
        f"à la lecture : {EXTRA_COLUMN}"
    ]
    assert (
        '<p class="evenement-conformite"><span class="pastille">Conformité</span> sur-livraison'
        in html
    )
    assert (
        f'<tr class="non-autorisee"><td><code>{EXTRA_COLUMN}</code></td><td><strong '
        'class="rouge">non</strong></td><td>oui</td>' in html
    )
    assert any(
        a["niveau"] == "orange" and a["texte"].startswith("cpam31, CPAM31_CSS_20250630.csv : sur")
        for a in facts["alertes"]
    )
    others = [d for d in facts["livraisons"] if d["fichier"] != "CPAM31_CSS_20250630.csv"]
    assert all(not d["champs"]["non_autorises"] for d in others)


def test_refusal_and_set_aside_rows_are_shown_with_their_rules(report):
    _, html, facts = report
    refused = _delivery(facts, "CD31_USAGERS_20250531.csv")
    assert refused["statut"] == "refusee"
    assert refused["refus"]["regle"] == "encodage"
    assert refused["fichier_quarantaine"] == "quarantine/cd31/CD31_USAGERS_20250531.csv"
    assert refused["champs"]["gardes"] == []
    caf = _delivery(facts, "CAF31_ALLOCATAIRES_20250630.csv")
    assert caf["lignes"]["ecartees"] == [
        {"regle": "date_possible", "libelle": "date impossible", "lignes": 1}
    ]
    assert caf["lignes"]["lues"] == caf["lignes"]["gardees"] + 1
    assert caf["champs"]["supprimes"] == ["ADRESSE", "CODEPOSTAL"]
    assert "<code>encodage</code>" in html
    assert {d["statut"] for d in facts["livraisons"]} == {"acceptee", "refusee"}
    assert len(facts["livraisons"]) == 6


# --- crossings, publications, retention, journal -------------------------------------------


def test_crossing_and_publication_of_the_pipeline(report):
    home, html, facts = report
    events = [json.loads(line) for line in _lines(home)]
    published = [e for e in events if e["evenement"] == "publication"]
    assert published, "le croisement n'a rien journalisé"
    verdict = published[-1]["verdict"]
    (period,) = facts["publications"]
    assert period["periode"] == PERIOD
    assert [p["verdict"] for p in period["publications"]] == [e["verdict"] for e in published]
    assert period["verdict_journal"] == verdict
    crossings = [e for e in events if e["evenement"] == "croisement_publie"]
    assert len(period["croisements"]) == len(crossings)
    for crossing in period["croisements"]:
        assert crossing["conventions"] == ["caf31", "carsatmp", "cd31", "cpam31", "ftocc"]
        # the real crossing's evidence: four crossings, every linked pair authorized
        evidence = crossing["liaisons"]
        assert evidence["disponible"] and evidence["verifiable"]
        assert [c["croisement"] for c in evidence["liste"]] == [
            "caf31+cd31",
            "caf31+carsatmp+cd31",
            "caf31+cd31+cpam31",
            "caf31+cd31+ftocc",
        ]
        for linked in evidence["liste"]:
            assert linked["non_autorisees"] == []
            assert {row["etat"] for row in linked["paires"]} == {"conforme"}
    assert not [a for a in facts["alertes"] if "liés alors que" in a["texte"]]
    if (home / "audit" / "divulgation" / f"{PERIOD}.html").is_file():
        assert f'<a class="restreint" href="divulgation/{PERIOD}.html">' in html
    refused = (
        "rouge",
        f"Période {PERIOD} : publication refusée par l'audit de divulgation "
        "(rien n'a été publié pour cette période)",
    )
    assert (refused in {(a["niveau"], a["texte"]) for a in facts["alertes"]}) == (
        verdict == "refusee"
    )


def test_an_older_home_without_disclosure_audit(tmp_path):
    home = tmp_path / "home"
    append_event(
        home / "audit",
        "croisement_publie",
        execution="0123456789ab",
        periode="2024-12",
        livraisons={"caf31": {"fichier": "CAF31_ALLOCATAIRES_20241231.csv", "sha256": "0" * 64}},
        indicateurs_calcules=["rsa"],
        indicateurs_ignores={"aspa": "convention carsatmp absente"},
        lignes_publiees={"indicateurs": 12},
        protection="secret primaire seulement",
    )
    html_path, json_path = write_dpo_report(home, None, TODAY)
    facts = json.loads(json_path.read_text(encoding="utf-8"))
    (period,) = facts["publications"]
    assert period["divulgation"] == {"present": False, "page": None}
    assert period["verdict_journal"] is None
    assert period["croisements"][0]["indicateurs_ignores"] == [
        {"indicateur": "aspa", "motif": "convention carsatmp absente"}
    ]
    html = html_path.read_text(encoding="utf-8")
    assert "audit de divulgation absent pour cette période" in html
    assert period["croisements"][0]["liaisons"] == {
        "disponible": False,
        "verifiable": True,
        "date_reference": None,
        "liste": [],
    }
    assert (
        '<p class="liaisons-indisponibles">Paires de conventions liées : non disponible '
        "(exécution antérieure).</p>"
    ) in html
    assert {"niveau": "orange", "texte": "Période 2024-12 : audit de divulgation absent"} in (
        facts["alertes"]
    )
    assert facts["conservation"]["etat"][0]["chemin"] is None  # nothing ingested there


def test_disclosure_verdict_and_restricted_link(scenario, tmp_path):
    source, conventions, _ = scenario
    home = tmp_path / "home"
    shutil.copytree(source, home, ignore=shutil.ignore_patterns("landing", "truth"))
    folder = home / "audit" / "divulgation"
    folder.mkdir(exist_ok=True)
    audit = {
        "periode": PERIOD,
        "verdict": "conforme",
        "largeur_protection": 0.1,
        "lignes_secretes": 321,
        "part_secret_par_niveau": {"commune": 0.4, "epci": 0.05},
        "intervalles": [{"code_territoire": "31555", "min": 0, "max": 9}],  # never repeated
    }
    (folder / f"{PERIOD}.json").write_text(json.dumps(audit), encoding="utf-8")
    (folder / f"{PERIOD}.html").write_text("<p>restreint</p>", encoding="utf-8")
    append_event(home / "audit", "publication", periode=PERIOD, verdict="conforme")
    html_path, json_path = write_dpo_report(home, conventions, TODAY)
    facts = json.loads(json_path.read_text(encoding="utf-8"))
    html = html_path.read_text(encoding="utf-8")
    (period,) = facts["publications"]
    assert period["divulgation"] == {
        "present": True,
        "page": f"divulgation/{PERIOD}.html",
        "verdict": "conforme",
        "verdict_libelle": "conforme",
        "largeur_protection": 0.1,
        "lignes_secretes": 321,
        "lignes_primaires": None,
        "lignes_secondaires": None,
        "comptes_bloquants": None,
        "part_secret_par_niveau": {"commune": 0.4, "epci": 0.05},
    }
    assert period["publications"][-1]["verdict"] == "conforme"
    assert "<p>Part des lignes sous secret : commune 40,0\u202f% ; epci 5,0\u202f%.</p>" in html
    assert f'<a class="restreint" href="divulgation/{PERIOD}.html">' in html
    assert "intervalles" not in html and "31555" not in json.dumps(period)
    assert not any(a["texte"].startswith(f"Période {PERIOD}") for a in facts["alertes"])


def test_retention_purges_and_journal_events(scenario, tmp_path):
    source, conventions, _ = scenario
    home = tmp_path / "home"
    shutil.copytree(source, home, ignore=shutil.ignore_patterns("truth"))
    audit = home / "audit"
    append_event(
        audit,
        "purge",
        convention="caf31",
        zone="landing",
        quoi="landing/caf31/CAF31_ALLOCATAIRES_20250531.csv",
        pourquoi="conservation de 30 jours dépassée",
        sha256="ab" * 32,
    )
    append_event(
        audit,
        "changement_de_cle",
        anciennes_empreintes=["b5d72101095cf24e"],
        nouvelle_empreinte="0123abcd4567ef89",
        entrepot_supprime=True,
    )
    append_event(audit, "convention_expiree", convention=EXPIRED, valide_au="2025-07-01")
    append_event(audit, "echec_tache", dag="ingest_caf31", tache="ingerer", tentative=3)
    later = date.today() + timedelta(days=40)  # files were received today, for real
    _, json_path = write_dpo_report(home, conventions, later)
    facts = json.loads(json_path.read_text(encoding="utf-8"))
    html = (audit / "rapport_dpo.html").read_text(encoding="utf-8")
    status = {(i["convention"], i["zone"]): i for i in facts["conservation"]["etat"]}
    assert len(status) == 10
    landing = status[("caf31", "landing")]
    assert (landing["limite_jours"], landing["age_jours"], landing["depasse"]) == (30, 40, True)
    assert status[("caf31", "pseudonymized")]["depasse"] is False
    (purge,) = facts["conservation"]["purges"]
    assert purge["details"]["quoi"] == "landing/caf31/CAF31_ALLOCATAIRES_20250531.csv"
    kinds = [e["evenement"] for e in facts["journal"]["notables"]]
    assert kinds[-3:] == ["changement_de_cle", "convention_expiree", "echec_tache"]
    # the crossing recorded the conventions it first saw (recours.convention_events)
    assert set(kinds[:-3]) <= {"convention_ajoutee", "convention_modifiee", "convention_expiree"}
    assert "nouvelle_empreinte : 0123abcd4567ef89" in html
    assert "entrepot_supprime : oui" in html
    assert '<tr class="evenement-echec_tache">' in html
    assert any(a["texte"].startswith("Conservation dépassée : caf31") for a in facts["alertes"])


# --- pairs of conventions linked, beside the pairs the conventions authorize ---------------


def _pair(source: str, other: str, tier: str, records: int) -> dict:
    return {"source": source, "autre_source": other, "lien": tier, "enregistrements": records}


def _crossed(home: Path, execution: str, period: str, reference: str, crossings: list) -> dict:
    """Write one hand-made ``croisement_publie`` event, then the report; return its facts."""
    append_event(
        home / "audit",
        "croisement_publie",
        execution=execution,
        periode=period,
        date_reference=reference,
        livraisons={},
        indicateurs_calcules=[],
        croisements=crossings,
    )
    return json.loads(write_dpo_report(home, None, TODAY)[1].read_text(encoding="utf-8"))


def _linkage_alerts(facts: dict) -> list[str]:
    return [a["texte"] for a in facts["alertes"] if "liés alors que" in a["texte"]]


ASPA = {
    "croisement": "caf31+carsatmp+cd31",
    "sources": ["caf31", "carsatmp", "cd31"],
    "indicateurs": ["aspa"],
    "paires_liees": [
        _pair("caf31", "carsatmp", "nir", 1234),
        _pair("caf31", "carsatmp", "traits", 56),
        _pair("carsatmp", "caf31", "nir", 1201),
        _pair("caf31", "cd31", "nir", 300),
        _pair("cd31", "caf31", "traits", 12),
    ],
}


def test_a_conforming_crossing_shows_its_pairs_and_raises_no_alert(tmp_path):
    home = tmp_path / "home"
    facts = _crossed(home, "e1", "2025-06", "2025-06-30", [ASPA])
    (period,) = facts["publications"]
    evidence = period["croisements"][0]["liaisons"]
    assert (evidence["disponible"], evidence["date_reference"]) == (True, "2025-06-30")
    (crossing,) = evidence["liste"]
    assert crossing["paires_autorisees"] == [
        ["caf31", "carsatmp"],
        ["caf31", "cd31"],
        ["carsatmp", "cd31"],
    ]
    assert [(r["conventions"], r["etat"], r["enregistrements"]) for r in crossing["paires"]] == [
        (["caf31", "carsatmp"], "conforme", 2491),
        (["caf31", "cd31"], "conforme", 312),
        (["carsatmp", "cd31"], "sans_lien", 0),  # authorized, linked nobody: information
    ]
    assert crossing["paires"][0]["liens"] == [
        {"source": "caf31", "autre_source": "carsatmp", "nir": 1234, "traits": 56},
        {"source": "carsatmp", "autre_source": "caf31", "nir": 1201, "traits": 0},
    ]
    assert crossing["non_autorisees"] == []
    assert _linkage_alerts(facts) == []
    html = (home / "audit" / "rapport_dpo.html").read_text(encoding="utf-8")
    assert '<table class="liaisons" data-croisement="caf31+carsatmp+cd31">' in html
    assert (
        '<td class="nombre">caf31 → carsatmp : 1\u202f234<br>carsatmp → caf31 : 1\u202f201</td>'
        in html
    )
    assert '<tr class="paire-sans_lien" data-paire="carsatmp+cd31">' in html
    assert (
        '<span class="pastille">Information</span> <span class="etiquette">autorisée, aucun '
        "enregistrement lié</span>"
    ) in html
    assert "paire-non_autorisee" not in html.split("</style>")[1]


def test_an_unauthorized_pair_is_an_alert_naming_both_conventions(tmp_path):
    home = tmp_path / "home"
    crossings = [
        {
            "croisement": "caf31+cpam31+ftocc",
            "sources": ["caf31", "cpam31", "ftocc"],
            "indicateurs": ["css_rsa"],
            "paires_liees": [
                _pair("caf31", "cpam31", "nir", 800),
                _pair("cpam31", "ftocc", "nir", 1333),
                _pair("cpam31", "ftocc", "traits", 162),
                _pair("ftocc", "cpam31", "nir", 1330),
                _pair("cpam31", "carsatmp", "nir", 0),  # nothing linked: nothing to report
            ],
        },
        {
            "croisement": "caf31+cd31",
            "sources": ["caf31", "cd31"],
            "indicateurs": ["connus"],
            "paires_liees": [_pair("caf31", "cd31", "nir", 10), _pair("caf31", "ftocc", "nir", 4)],
        },
    ]
    facts = _crossed(home, "e2", "2025-06", "2025-06-30", crossings)
    first, second = facts["publications"][0]["croisements"][0]["liaisons"]["liste"]
    assert [(r["conventions"], r["etat"]) for r in first["paires"]] == [
        (["caf31", "cpam31"], "conforme"),
        (["caf31", "ftocc"], "sans_lien"),
        (["cpam31", "ftocc"], "non_autorisee"),
    ]
    assert [(r["conventions"], r["etat"]) for r in second["paires"]] == [
        (["caf31", "cd31"], "conforme"),
        (["caf31", "ftocc"], "non_autorisee"),
    ]
    tail = (
        "; ne pas diffuser cette publication et faire corriger le croisement par l'équipe données"
    )
    assert _linkage_alerts(facts) == [
        "Période 2025-06, croisement caf31+cpam31+ftocc (exécution e2) : 2825 enregistrement(s) "
        "de cpam31 et ftocc liés alors que les conventions ne l'autorisent pas (la convention "
        f"cpam31 n'autorise pas le croisement avec ftocc) {tail}",
        "Période 2025-06, croisement caf31+cd31 (exécution e2) : 4 enregistrement(s) de caf31 "
        f"et ftocc liés alors que les conventions ne l'autorisent pas (ftocc hors des sources de "
        f"ce croisement) {tail}",
    ]
    assert all(a["niveau"] == "rouge" for a in facts["alertes"] if "liés alors que" in a["texte"])
    html = (home / "audit" / "rapport_dpo.html").read_text(encoding="utf-8")
    assert '<tr class="paire-non_autorisee" data-paire="cpam31+ftocc">' in html
    assert (
        '<td><strong class="rouge">non</strong> : la convention cpam31 n&#39;autorise pas le '
        "croisement avec ftocc</td>"
    ) in html
    assert html.count('<li class="alerte rouge"><span class="pastille">Grave</span> Période') == 2


def test_a_pair_is_authorized_only_while_both_conventions_are_in_force(tmp_path):
    """cpam31 starts on 2025-04-01: a March crossing of caf31 with cpam31 had no convention."""
    home = tmp_path / "home"
    crossing = {
        "croisement": "caf31+cpam31+cd31",
        "sources": ["caf31", "cpam31", "cd31"],
        "indicateurs": ["css_rsa"],
        "paires_liees": [_pair("caf31", "cpam31", "nir", 7)],
    }
    facts = _crossed(home, "e3", "2025-03", "2025-03-31", [crossing])
    (only,) = facts["publications"][0]["croisements"][0]["liaisons"]["liste"]
    assert only["paires_autorisees"] == []  # caf31 too starts on 2025-04-01
    assert [(r["conventions"], r["motif"]) for r in only["non_autorisees"]] == [
        (
            ["caf31", "cpam31"],
            "convention caf31 pas encore en vigueur le 2025-03-31 (à partir du 2025-04-01)",
        )
    ]
    assert len(_linkage_alerts(facts)) == 1


# --- file modes ------------------------------------------------------------------------------


def _make_private(home: Path) -> None:
    """What umask 077 and published/ shared with the group would have made."""
    for path in [home, *sorted(home.rglob("*"))]:
        shared = path == home or path.relative_to(home).parts[:1] == ("published",)
        if path.is_dir():
            os.chmod(path, 0o750 if shared else 0o700)
        else:
            os.chmod(path, 0o640 if shared else 0o600)


def _modes_report(home: Path) -> tuple[dict, str]:
    _, json_path = write_dpo_report(home, None, TODAY)
    html = (home / "audit" / "rapport_dpo.html").read_text(encoding="utf-8")
    return json.loads(json_path.read_text(encoding="utf-8")), html


def _mode_alerts(facts: dict) -> list[tuple[str, str]]:
    return [(a["niveau"], a["texte"]) for a in facts["alertes"] if "Droits trop" in a["texte"]]


def test_file_modes_found_in_the_home_are_reported(scenario, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(scenario[0], home, ignore=shutil.ignore_patterns("truth"))
    (home / "published").mkdir(exist_ok=True)
    (home / "published" / "lisezmoi.txt").write_text("agrégats\n", encoding="utf-8")
    _make_private(home)
    facts, html = _modes_report(home)
    assert (facts["droits"]["nombre_trop_ouverts"], facts["droits"]["trop_ouverts"]) == (0, [])
    zones = {z["zone"]: z for z in facts["droits"]["zones"]}
    assert {z: zones[z]["present"] for z in zones} == {
        "landing/": True,
        "quarantine/": True,
        "pseudonymized/": True,
        "warehouse.duckdb*": True,
        "audit/": True,
        "secrets/": False,
        "published/": True,
    }
    assert _mode_alerts(facts) == []
    assert '<p class="ok">Aucun fichier ni dossier trop ouvert.</p>' in html

    parquet = sorted((home / "pseudonymized" / "cpam31").rglob("*.parquet"))[0]
    os.chmod(home / "pseudonymized" / "caf31", 0o750)  # the group may list it
    os.chmod(parquet, 0o644)  # anyone may read it
    os.chmod(home / "warehouse.duckdb", 0o640)
    os.chmod(home / "audit" / "journal.jsonl", 0o604)
    os.chmod(home / "published", 0o770)  # the group may change a published figure
    os.chmod(home / "published" / "lisezmoi.txt", 0o644)  # others may read it
    facts, html = _modes_report(home)
    shown = parquet.relative_to(home).as_posix()
    assert facts["droits"]["trop_ouverts"] == [
        {
            "chemin": "pseudonymized/caf31/",
            "mode": "0750",
            "droits": "drwxr-x---",
            "ouvert_a": "groupe (lecture, accès)",
            "zone": "pseudonymized/",
        },
        {
            "chemin": shown,
            "mode": "0644",
            "droits": "-rw-r--r--",
            "ouvert_a": "groupe (lecture) ; autres (lecture)",
            "zone": "pseudonymized/",
        },
        {
            "chemin": "warehouse.duckdb",
            "mode": "0640",
            "droits": "-rw-r-----",
            "ouvert_a": "groupe (lecture)",
            "zone": "warehouse.duckdb*",
        },
        {
            "chemin": "audit/journal.jsonl",
            "mode": "0604",
            "droits": "-rw----r--",
            "ouvert_a": "autres (lecture)",
            "zone": "audit/",
        },
        {
            "chemin": "published/",
            "mode": "0770",
            "droits": "drwxrwx---",
            "ouvert_a": "groupe (écriture)",
            "zone": "published/",
        },
        {
            "chemin": "published/lisezmoi.txt",
            "mode": "0644",
            "droits": "-rw-r--r--",
            "ouvert_a": "autres (lecture)",
            "zone": "published/",
        },
    ]
    assert facts["droits"]["nombre_trop_ouverts"] == 6
    fix = "corriger depuis le dossier de travail :"
    assert _mode_alerts(facts) == [
        (
            "rouge",
            "Droits trop ouverts dans pseudonymized/ (données pseudonymisées, attendu 0600 / "
            "0700) : 2 fichier(s) ou dossier(s) accessibles au groupe ou aux autres : "
            f"pseudonymized/caf31/ (0750), {shown} (0644) ; {fix} chmod -R go-rwx pseudonymized",
        ),
        (
            "rouge",
            "Droits trop ouverts dans warehouse.duckdb* (entrepôt (niveau individuel), attendu "
            "0600 / 0700) : 1 fichier(s) ou dossier(s) accessibles au groupe ou aux autres : "
            f"warehouse.duckdb (0640) ; {fix} chmod go-rwx warehouse.duckdb*",
        ),
        (
            "rouge",
            "Droits trop ouverts dans audit/ (journal d'audit et audit restreint, attendu 0600 / "
            "0700) : 1 fichier(s) ou dossier(s) accessibles au groupe ou aux autres : "
            f"audit/journal.jsonl (0604) ; {fix} chmod -R go-rwx audit",
        ),
        (
            "orange",
            "Droits trop ouverts dans published/ (publication (agrégats), attendu 0640 / 0750 au "
            "plus) : 2 fichier(s) ou dossier(s) accessibles aux autres, ou au groupe en écriture : "
            f"published/ (0770), published/lisezmoi.txt (0644) ; {fix} chmod -R g-w,o-rwx "
            "published",
        ),
    ]
    assert '<tr class="trop-ouvert" data-zone="pseudonymized/">' in html
    assert "<td><code>audit/journal.jsonl</code></td><td><code>0604</code></td>" in html


def test_at_most_twenty_too_open_entries_are_listed_with_the_count(scenario, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(scenario[0], home, ignore=shutil.ignore_patterns("truth", "landing"))
    _make_private(home)
    zone = home / "pseudonymized"
    entries = [zone, *sorted(zone.rglob("*"))]
    assert len(entries) > 20
    for path in entries:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    facts, html = _modes_report(home)
    modes = facts["droits"]
    assert modes["nombre_trop_ouverts"] == len(entries)
    assert len(modes["trop_ouverts"]) == 20
    assert modes["trop_ouverts"][0]["chemin"] == "pseudonymized/"
    ((level, text),) = _mode_alerts(facts)
    assert level == "rouge"
    assert text.startswith(
        f"Droits trop ouverts dans pseudonymized/ (données pseudonymisées, attendu 0600 / 0700) : "
        f"{len(entries)} fichier(s) ou dossier(s) accessibles au groupe ou aux autres : "
        "pseudonymized/ (0755), "
    )
    assert text.count(" (0755)") + text.count(" (0644)") == 20
    assert text.endswith(
        f" et {len(entries) - 20} autre(s) ; corriger depuis le dossier de travail : "
        "chmod -R go-rwx pseudonymized"
    )
    assert f"<h3>Fichiers et dossiers trop ouverts (20 premiers sur {len(entries)})</h3>" in html


# --- what the report must not hold ----------------------------------------------------------


def test_report_holds_no_identifier(report, scenario):
    from test_privacy import leaks

    _, html, facts = report
    secret = scenario[2]
    assert leaks(html, secret) == []
    assert leaks(json.dumps(facts, ensure_ascii=False), secret) == []


def test_report_holds_no_pseudonym(report):
    home, html, facts = report
    pseudonyms: set[str] = set()
    for path in (home / "pseudonymized").rglob("*.parquet"):
        frame = pl.read_parquet(path)
        for column in frame.columns:
            if column.startswith("pseudo_") or column == "cles_appariement":
                values = frame[column].explode() if column == "cles_appariement" else frame[column]
                pseudonyms |= {str(v) for v in values.drop_nulls().to_list()}
    assert len(pseudonyms) > 1000
    for text in (html, json.dumps(facts, ensure_ascii=False)):
        tokens = set(re.findall(r"[0-9A-Za-z:_\-]{8,}", text))
        assert not tokens & pseudonyms
        assert not any(p in text for p in pseudonyms if len(p) >= 8)


def test_values_from_conventions_are_escaped(scenario, tmp_path):
    source, conventions, _ = scenario
    folder = tmp_path / "conventions"
    shutil.copytree(conventions, folder)
    path = folder / "caf31.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "title: >-\n", 'title: >-\n  <script>alert("x")</script> &\n', 1
    )
    path.write_text(text, encoding="utf-8")
    home = tmp_path / "home"
    shutil.copytree(source, home, ignore=shutil.ignore_patterns("landing", "truth"))
    html = write_dpo_report(home, folder, TODAY)[0].read_text(encoding="utf-8")
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp;" in html


# --- the journal check -------------------------------------------------------------------


def _lines(home: Path) -> list[bytes]:
    return journal_path(home / "audit").read_bytes().splitlines(keepends=True)


def _change_value(line: bytes) -> bytes:
    event = json.loads(line)
    event["horodatage"] = "2020-01-01T00:00:00+00:00"
    return json.dumps(event, ensure_ascii=False, sort_keys=True).encode() + b"\n"


def _tamper(lines: list[bytes], how: str) -> tuple[list[bytes], int, str]:
    """(tampered lines, line where the check must break, its reason)."""
    last = len(lines)
    modified = "le contenu a été modifié après écriture"
    if how == "premiere":
        return [_change_value(lines[0]), *lines[1:]], 1, modified
    if how == "milieu":
        return [*lines[:4], _change_value(lines[4]), *lines[5:]], 5, modified
    if how == "derniere":
        return [*lines[:-1], _change_value(lines[-1])], last, modified
    if how == "un_octet":
        flipped = lines[6].replace(b'"seq": 7', b'"seq": 8')
        return [*lines[:6], flipped, *lines[7:]], 7, modified
    if how == "espace":
        spaced = lines[2].replace(b", ", b",  ", 1)
        return (
            [*lines[:2], spaced, *lines[3:]],
            3,
            (
                "la forme de la ligne a été modifiée après écriture "
                "(espaces, échappements ou ordre des clés)"
            ),
        )
    if how == "fin_de_ligne_crlf":
        return (
            [*lines[:3], lines[3].replace(b"\n", b"\r\n"), *lines[4:]],
            4,
            (
                "la forme de la ligne a été modifiée après écriture "
                "(espaces, échappements ou ordre des clés)"
            ),
        )
    if how == "premiere_supprimee":
        return (
            lines[1:],
            1,
            (
                "le chaînage est rompu : l'événement n° 2 se trouve là où le n° 1 était attendu "
                "(événements supprimés, insérés ou déplacés)"
            ),
        )
    if how == "ligne_supprimee":
        return (
            [*lines[:3], *lines[4:]],
            4,
            (
                "le chaînage est rompu : l'événement n° 5 se trouve là où le n° 4 était attendu "
                "(événements supprimés, insérés ou déplacés)"
            ),
        )
    if how == "paire_echangee":
        return (
            [*lines[:5], lines[6], lines[5], *lines[7:]],
            6,
            (
                "le chaînage est rompu : l'événement n° 7 se trouve là où le n° 6 était attendu "
                "(événements supprimés, insérés ou déplacés)"
            ),
        )
    if how == "ligne_dupliquee":
        return (
            [*lines[:3], lines[2], *lines[3:]],
            4,
            (
                "le chaînage est rompu : l'événement n° 3 se trouve là où le n° 4 était attendu "
                "(événements supprimés, insérés ou déplacés)"
            ),
        )
    if how == "derniere_supprimee":
        return (
            lines[:-1],
            last,
            (
                f"le journal s'arrête à l'événement n° {last - 1} alors que le rapport DPO du "
                f"{TODAY} en comptait {last} : des événements ont été supprimés à la fin"
            ),
        )
    if how == "octets_invalides":
        return (
            [*lines[:1], lines[1][:20] + b"\xff" + lines[1][21:], *lines[2:]],
            2,
            ("octets illisibles (ce n'est plus de l'UTF-8)"),
        )
    assert how == "fin_tronquee"
    return (
        [*lines[:-1], lines[-1].rstrip(b"\n")],
        last,
        ("la dernière ligne n'a pas de fin de ligne (tronquée ?)"),
    )


TAMPERINGS = (
    "premiere",
    "milieu",
    "derniere",
    "un_octet",
    "espace",
    "fin_de_ligne_crlf",
    "premiere_supprimee",
    "ligne_supprimee",
    "paire_echangee",
    "ligne_dupliquee",
    "derniere_supprimee",
    "octets_invalides",
    "fin_tronquee",
)


@pytest.mark.parametrize("how", TAMPERINGS)
def test_verify_finds_tampering_at_the_right_line(report, how):
    home = report[0]  # its report sealed the journal's head on TODAY
    lines = _lines(home)
    assert len(lines) >= 10
    tampered, line, reason = _tamper(lines, how)
    journal_path(home / "audit").write_bytes(b"".join(tampered))
    result = CliRunner().invoke(cli, ["audit", "verify", "--home", str(home)])
    assert result.exit_code == 1, result.output
    assert f"CHAÎNE ROMPUE à la ligne {line} : {reason}\n" in result.output
    intact = line - 1
    if intact:
        assert f"Les lignes 1 à {intact} sont intactes.\n" in result.output


def test_verify_says_intact_and_gives_the_seal(report):
    home, _, facts = report
    result = CliRunner().invoke(cli, ["audit", "verify", "--home", str(home)])
    assert result.exit_code == 0, result.output
    seal = facts["chaine"]["sceau"]
    assert f"Chaîne intacte : {seal['seq']} événement(s).\n" in result.output
    assert f"Sceau : événement n° {seal['seq']}, empreinte {seal['hash']}\n" in result.output
    assert facts["chaine"]["intacte"] is True


def test_report_shows_a_broken_chain(report, scenario):
    home = report[0]
    lines = _lines(home)
    journal_path(home / "audit").write_bytes(
        b"".join([*lines[:4], _change_value(lines[4]), *lines[5:]])
    )
    _, json_path = write_dpo_report(home, scenario[1], TODAY)
    facts = json.loads(json_path.read_text(encoding="utf-8"))
    html = (home / "audit" / "rapport_dpo.html").read_text(encoding="utf-8")
    assert facts["chaine"]["intacte"] is False
    assert facts["chaine"]["ligne"] == 5
    assert facts["alertes"][0] == {
        "niveau": "rouge",
        "texte": "Journal d'audit altéré : ligne 5 : le contenu a été modifié après écriture",
    }
    assert '<p class="verdict-chaine rouge"><strong>Chaîne rompue</strong>' in html


def test_audit_command_writes_both_files(scenario, tmp_path):
    source, conventions, _ = scenario
    home = tmp_path / "home"
    shutil.copytree(source, home, ignore=shutil.ignore_patterns("landing", "truth"))
    result = CliRunner().invoke(
        cli,
        ["audit", "--home", str(home), "--conventions", str(conventions), "--date", "2025-07-15"],
    )
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"Rapport du DPO : {home / 'audit' / 'rapport_dpo.html'}\n"
        f"Mêmes faits en JSON : {home / 'audit' / 'rapport_dpo.json'}\n"
    )
    facts = json.loads((home / "audit" / "rapport_dpo.json").read_text(encoding="utf-8"))
    assert facts["date"] == "2025-07-15"


# --- in a real browser --------------------------------------------------------------------


@pytest.mark.slow  # headless Chromium
def test_rendered_in_chromium_with_every_section_and_no_request(report, tmp_path):
    from browser import render

    home, _, facts = report
    shot = tmp_path / "rapport_dpo.png"
    rendered = render(home / "audit" / "rapport_dpo.html", shot, width=1280, height=2000)
    assert rendered.requests == []
    for section in SECTIONS:
        assert f'<section class="section" id="{section}">' in rendered.dom
    assert "<h1>Rapport du délégué à la protection des données</h1>" in rendered.dom
    assert 'data-convention="cd31"' in rendered.dom
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
