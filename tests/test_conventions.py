"""The bilateral conventions: the real files, the model's API, and every problem the check reports.

Each broken case copies the real files into a temporary folder, edits one text the way a person
would, and asserts the exact French message and line. Expected lines are found by searching the
edited text, so that rewording a comment in a real file does not break the tests.
"""

from __future__ import annotations

import io
import re
import shutil
from calendar import monthrange
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from recours.conventions import (
    PUBLICATION_FLOOR,
    REPO_CONVENTIONS,
    Convention,
    ConventionError,
    ConventionProblem,
    check_with_warnings,
    crossing_authorized,
    find_convention_for,
    load_convention,
    load_conventions,
    run_check,
)
from recours.conventions import check_conventions as _check
from recours.schemas import REPO_SCHEMAS, load_schemas

FILES = ["caf31.yaml", "carsatmp.yaml", "cd31.yaml", "cpam31.yaml", "ftocc.yaml"]
IDS = ["caf31", "carsatmp", "cd31", "cpam31", "ftocc"]
SCHEMA_LIST = "caf31_allocataires, carsatmp_retraites, cd31_usagers, cpam31_css, ftocc_demandeurs"
# Who may be crossed with whom (docs/regles.md, "Les sources", plus cd31 for every indicator).
CROSSINGS = {
    frozenset({"caf31", "cpam31"}),
    frozenset({"caf31", "carsatmp"}),
    frozenset({"caf31", "ftocc"}),
    frozenset({"caf31", "cd31"}),
    frozenset({"cpam31", "cd31"}),
    frozenset({"carsatmp", "cd31"}),
    frozenset({"ftocc", "cd31"}),
}

Conventions = dict[str, Convention]


def check_conventions(directory: Path) -> list[ConventionProblem]:
    return _check(directory, REPO_SCHEMAS)


@pytest.fixture(scope="module")
def real() -> Conventions:
    """The repository's conventions, loaded once (the model is immutable)."""
    return load_conventions()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the real conventions, to break."""
    return Path(shutil.copytree(REPO_CONVENTIONS, tmp_path / "conventions"))


def edit(folder: Path, file: str, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in a copied file."""
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} doit apparaître une fois dans {file}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def cut(folder: Path, file: str, start: str, end: str) -> None:
    """Remove the lines from the one starting with ``start`` up to, not including, ``end``."""
    path = folder / file
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(rf"^{re.escape(start)}.*?(?=^{re.escape(end)})", re.M | re.S)
    assert len(pattern.findall(text)) == 1, f"bloc {start!r} introuvable dans {file}"
    path.write_text(pattern.sub("", text), encoding="utf-8")


def line(folder: Path, file: str, needle: str) -> int:
    """The 1-based line of the one line of ``file`` that contains ``needle``."""
    lines = (folder / file).read_text(encoding="utf-8").splitlines()
    found = [number for number, text in enumerate(lines, 1) if needle in text]
    assert len(found) == 1, f"{needle!r} doit apparaître sur une seule ligne de {file}: {found}"
    return found[0]


def problem(folder: Path, file: str, needle: str, message: str) -> ConventionProblem:
    return ConventionProblem(file, line(folder, file, needle), message)


# --- the real files -------------------------------------------------------------------------------


def test_real_conventions_check_clean() -> None:
    assert check_conventions(REPO_CONVENTIONS) == []


def test_real_conventions_load_by_id() -> None:
    conventions = load_conventions()  # default folders: the repository's conventions/, schemas/
    assert sorted(conventions) == IDS
    assert sorted(path.name for path in REPO_CONVENTIONS.glob("*.yaml")) == FILES


@pytest.mark.parametrize("file", FILES)
def test_each_real_file_loads_alone(file: str) -> None:
    convention = load_convention(REPO_CONVENTIONS / file)
    assert convention.id == file.removesuffix(".yaml")
    assert convention.purpose.id == "tznr_non_recours"
    assert convention.publication_threshold == PUBLICATION_FLOOR == 11
    assert [basis.article for basis in convention.legal_basis.gdpr][0] == "6-1-e"


def test_every_schema_has_exactly_one_convention_listing_every_field(real: Conventions) -> None:
    conventions = real
    for schema_id, schema in load_schemas().items():
        convention = find_convention_for(conventions, schema_id)
        assert convention is not None and convention.id == schema.convention
        assert list(convention.dataset(schema_id).fields) == schema.column_names


def test_conventions_cover_every_period_from_2025_04_to_2027_12(real: Conventions) -> None:
    """Every convention is in force on the reference date (last day) of every period."""
    periods = [(2025 + month // 12, month % 12 + 1) for month in range(3, 36)]
    references = [date(year, month, monthrange(year, month)[1]) for year, month in periods]
    assert (references[0], references[-1]) == (date(2025, 4, 30), date(2027, 12, 31))
    for convention in real.values():
        assert all(convention.in_force(day) for day in references), convention.id
        assert convention.in_force(date(2025, 4, 1)), convention.id


def test_no_direct_identifier_or_free_text_leaves_landing(real: Conventions) -> None:
    for convention in real.values():
        for dataset in convention.datasets:
            for name, rule in dataset.fields.items():
                if rule.category in ("direct_identifier", "free_text"):
                    assert rule.treatment in ("pseudonymize", "drop"), (convention.id, name)


def test_field_and_treatment_api(real: Conventions) -> None:
    caf = real["caf31"]
    dtnais = caf.field("caf31_allocataires", "DTNAIS")
    assert (dtnais.category, dtnais.treatment, dtnais.to, dtnais.traits) == (
        "quasi_identifier",
        "generalize",
        ("mois_naissance", "age"),
        True,
    )
    assert caf.field("caf31_allocataires", "NUMALLOC").pseudonym == "pseudo_foyer"
    assert caf.field("caf31_allocataires", "NIR").pseudonym == "pseudo_nir"
    assert caf.field("caf31_allocataires", "QUALITE").pseudonym is None
    assert caf.treatment("caf31_allocataires", "ADRESSE") == "drop"
    assert caf.treatment("caf31_allocataires", "MTAL") == "keep"
    assert caf.schema_ids == ["caf31_allocataires"]
    assert caf.dataset("caf31_allocataires").names("drop") == ["ADRESSE", "CODEPOSTAL"]
    with pytest.raises(KeyError, match="ne couvre pas le jeu de données cpam31_css"):
        caf.dataset("cpam31_css")
    with pytest.raises(KeyError, match="ne prévoit pas le champ caf31_allocataires.IBAN"):
        caf.field("caf31_allocataires", "IBAN")


def test_output_columns_are_pseudonyms_generalizations_and_kept_fields(real: Conventions) -> None:
    conventions = real
    assert conventions["caf31"].dataset("caf31_allocataires").output_columns() == [
        "pseudo_foyer",
        "QUALITE",
        "pseudo_nir",
        "pseudo_traits",
        "mois_naissance",
        "age",
        "CODECOMMUNE",
        "SITFAM",
        "NBENFCHARGE",
        "RESSTRIM",
        "REVACTTRIM",
        "MTAL",
        "DROITRSA",
        "DROITPPA",
        "DROITAAH",
    ]
    assert conventions["cd31"].dataset("cd31_usagers").output_columns() == [
        "pseudo_nir",
        "pseudo_traits",
        "mois_naissance",
        "age",
        "CODE_COMMUNE",
        "ACCOMPAGNEMENT",
        "APA",
        "PCH",
        "DATE_DERNIER_CONTACT",
    ]


def test_find_convention_for(real: Conventions) -> None:
    conventions = real
    assert find_convention_for(conventions, "ftocc_demandeurs") is conventions["ftocc"]
    assert find_convention_for(conventions, "msa31_exploitants") is None


def test_in_force_bounds_are_inclusive(real: Conventions) -> None:
    caf = real["caf31"]
    assert (caf.valid_from, caf.valid_to) == (date(2025, 4, 1), date(2028, 3, 31))
    assert not caf.in_force(date(2025, 3, 31))
    assert caf.in_force(date(2025, 4, 1))
    assert caf.in_force(date(2028, 3, 31))
    assert not caf.in_force(date(2028, 4, 1))
    assert caf.why_not_in_force(date(2025, 4, 1)) is None
    assert caf.why_not_in_force(date(2025, 3, 31)) == (
        "convention caf31 pas encore en vigueur le 2025-03-31 (à partir du 2025-04-01)"
    )
    assert caf.why_not_in_force(date(2028, 4, 1)) == (
        "convention caf31 expirée le 2028-04-01 (valide jusqu'au 2028-03-31)"
    )


def test_authorizes_both_ways(real: Conventions) -> None:
    conventions = real
    for a in IDS:
        for b in IDS:
            if a == b:
                continue
            expected = frozenset({a, b}) in CROSSINGS
            assert conventions[a].authorizes(b) is expected, (a, b)
            assert conventions[b].authorizes(a) is expected, (b, a)
            assert crossing_authorized(conventions[a], conventions[b]) is expected
    assert not conventions["ftocc"].authorizes("cpam31")
    assert not conventions["cpam31"].authorizes("ftocc")


def test_retention(real: Conventions) -> None:
    caf = real["caf31"]
    assert (caf.retention.raw_days, caf.retention.pseudonymized_days) == (30, 395)
    assert caf.raw_purge_date(date(2025, 6, 3)) == date(2025, 7, 3)
    assert caf.pseudonymized_purge_date(date(2025, 6, 3)) == date(2026, 7, 3)


def test_recipients_receive_aggregates_only(real: Conventions) -> None:
    for convention in real.values():
        receives = {recipient.receives for recipient in convention.recipients}
        assert receives == {"agregats_publies", "audit_restreint"}


# --- every problem, with its file, line and French message ---------------------------------------

Break = Callable[[Path], list[ConventionProblem]]


def yaml_syntax(f: Path) -> list[ConventionProblem]:
    edit(f, "caf31.yaml", "id: caf31\n", "id: caf31: x\n")
    # Only the broken file: the files that cross with caf31 are not told it is unknown.
    return [
        problem(
            f, "caf31.yaml", "id: caf31: x", "YAML invalide (mapping values are not allowed here)"
        )
    ]


def duplicate_key(f: Path) -> list[ConventionProblem]:
    edit(
        f,
        "caf31.yaml",
        "publication_threshold: 11 ",
        "publication_threshold: 11\npublication_threshold: 12 ",
    )
    first = line(f, "caf31.yaml", "publication_threshold: 11")
    return [
        problem(
            f,
            "caf31.yaml",
            "publication_threshold: 12",
            f"clé « publication_threshold » en double (déjà ligne {first}) : "
            "la seconde valeur remplacerait la première",
        )
    ]


def impossible_date(f: Path) -> list[ConventionProblem]:
    edit(f, "caf31.yaml", "valid_to: 2028-03-31", "valid_to: 2028-02-30")
    return [problem(f, "caf31.yaml", "valid_to:", "date impossible : 2028-02-30")]


def missing_legal_basis(f: Path) -> list[ConventionProblem]:
    cut(f, "caf31.yaml", "legal_basis:", "signed_on:")
    # A missing top-level key is reported where the document starts (its first key).
    return [problem(f, "caf31.yaml", "id: caf31", "base légale manquante (legal_basis)")]


def missing_dpo_email(f: Path) -> list[ConventionProblem]:
    edit(f, "cpam31.yaml", "      email: dpo@cpam31.invalid\n", "")
    # Reported on the key of the mapping it is missing from, the provider's "dpo:".
    dpo_line = line(f, "cpam31.yaml", "name: Nadia Ferrer") - 1
    message = "adresse électronique manquante (parties.provider.dpo.email)"
    return [ConventionProblem("cpam31.yaml", dpo_line, message)]


def misspelt_key(f: Path) -> list[ConventionProblem]:
    edit(f, "caf31.yaml", "legal_basis:", "legal_bases:")
    return [
        problem(f, "caf31.yaml", "id: caf31", "base légale manquante (legal_basis)"),
        problem(f, "caf31.yaml", "legal_bases:", "clé inconnue « legal_bases » (legal_bases)"),
    ]


def empty_value(f: Path) -> list[ConventionProblem]:
    edit(f, "caf31.yaml", "title: >-", "title:  # cassé\nnot_title: >-")
    return [
        problem(f, "caf31.yaml", "# cassé", "valeur vide pour title"),
        problem(f, "caf31.yaml", "not_title:", "clé inconnue « not_title » (not_title)"),
    ]


def wrong_treatment(f: Path) -> list[ConventionProblem]:
    edit(
        f,
        "caf31.yaml",
        "treatment: keep\n        motif: distinguer",
        "treatment: garder\n        motif: distinguer",
    )
    return [
        problem(
            f,
            "caf31.yaml",
            "treatment: garder",
            "valeur « garder » non admise pour datasets[0].fields.QUALITE.treatment "
            "(attendu : pseudonymize, generalize, keep, drop, redact)",
        )
    ]


def wrong_target(f: Path) -> list[ConventionProblem]:
    edit(f, "cpam31.yaml", "to: [mois_naissance, age]", "to: [mois_naissance, jour]")
    return [
        problem(
            f,
            "cpam31.yaml",
            "to: [mois_naissance, jour]",
            "valeur « jour » non admise pour datasets[0].fields.date_naissance.to[1] "
            "(attendu : pseudo_nir, pseudo_traits, pseudo_foyer, pseudo_identifiant, "
            "mois_naissance, annee_naissance, age, tranche_age)",
        )
    ]


def wrong_threshold_type(f: Path) -> list[ConventionProblem]:
    edit(f, "caf31.yaml", "publication_threshold: 11 ", "publication_threshold: onze ")
    return [
        problem(
            f,
            "caf31.yaml",
            "publication_threshold:",
            "nombre entier attendu pour publication_threshold : « onze »",
        )
    ]


def wrong_date_type(f: Path) -> list[ConventionProblem]:
    edit(f, "ftocc.yaml", "signed_on: 2025-02-27", "signed_on: bientôt")
    return [
        problem(
            f,
            "ftocc.yaml",
            "signed_on:",
            "date invalide pour signed_on : « bientôt » (attendu AAAA-MM-JJ)",
        )
    ]


def negative_retention(f: Path) -> list[ConventionProblem]:
    edit(f, "carsatmp.yaml", "raw_days: 30", "raw_days: -1")
    return [
        problem(
            f, "carsatmp.yaml", "raw_days:", "retention.raw_days : -1 est inférieur au minimum 0"
        )
    ]


def bad_gdpr_article(f: Path) -> list[ConventionProblem]:
    edit(f, "cd31.yaml", '"9-2-g"', '"9-2-z"')
    return [
        problem(
            f,
            "cd31.yaml",
            '"9-2-z"',
            "format invalide pour legal_basis.gdpr[1].article : « 9-2-z » "
            "(attendu : 6-1-a à 6-1-f ou 9-2-a à 9-2-j)",
        )
    ]


def no_article_6(f: Path) -> list[ConventionProblem]:
    edit(f, "cpam31.yaml", '"6-1-e"', '"9-2-g"')
    return [
        problem(
            f,
            "cpam31.yaml",
            "  gdpr:",
            "aucune base de licéité de l'article 6 du RGPD (6-1-a à 6-1-f)",
        )
    ]


def person_level_recipient(f: Path) -> list[ConventionProblem]:
    edit(
        f,
        "ftocc.yaml",
        "France Travail Occitanie (direction des statistiques, études et évaluations)\n"
        "    receives: agregats_publies",
        "France Travail Occitanie (direction des statistiques, études et évaluations)\n"
        "    receives: donnees_individuelles",
    )
    return [
        problem(
            f,
            "ftocc.yaml",
            "receives: donnees_individuelles",
            "valeur « donnees_individuelles » non admise pour recipients[2].receives "
            "(attendu : agregats_publies, audit_restreint)",
        )
    ]


def end_before_start(f: Path) -> list[ConventionProblem]:
    edit(f, "caf31.yaml", "valid_to: 2028-03-31", "valid_to: 2025-03-31")
    return [
        problem(
            f,
            "caf31.yaml",
            "valid_to:",
            "fin de validité (2025-03-31) antérieure au début (2025-04-01)",
        )
    ]


def signed_after_start(f: Path) -> list[ConventionProblem]:
    edit(f, "caf31.yaml", "signed_on: 2025-03-14", "signed_on: 2025-04-02")
    return [
        problem(
            f,
            "caf31.yaml",
            "signed_on:",
            "signée le 2025-04-02, après le début de validité (2025-04-01) : "
            "une convention ne vaut pas pour le passé",
        )
    ]


def field_without_treatment(f: Path) -> list[ConventionProblem]:
    cut(f, "caf31.yaml", "      MTAL:", "      DROITRSA:")
    return [
        problem(
            f,
            "caf31.yaml",
            "    fields:",
            "caf31_allocataires : champ MTAL du schéma sans traitement",
        )
    ]


def field_not_in_schema(f: Path) -> list[ConventionProblem]:
    edit(f, "caf31.yaml", "      CODEPOSTAL:", "      CODE_POSTAL:")
    return [
        problem(
            f,
            "caf31.yaml",
            "    fields:",
            "caf31_allocataires : champ CODEPOSTAL du schéma sans traitement",
        ),
        problem(
            f,
            "caf31.yaml",
            "CODE_POSTAL:",
            "caf31_allocataires : champ CODE_POSTAL absent du schéma",
        ),
    ]


def unknown_schema(f: Path) -> list[ConventionProblem]:
    edit(f, "caf31.yaml", "schema: caf31_allocataires", "schema: caf31_allocs")
    return [
        problem(
            f,
            "caf31.yaml",
            "schema: caf31_allocs",
            f"schéma inconnu : caf31_allocs (schémas connus : {SCHEMA_LIST})",
        )
    ]


def one_sided_crossing(f: Path) -> list[ConventionProblem]:
    cut(f, "cpam31.yaml", "  - convention: caf31", "  - convention: cd31")
    return [
        problem(
            f,
            "caf31.yaml",
            "- convention: cpam31",
            "croisement avec cpam31 autorisé ici mais pas par cpam31.yaml : "
            "les deux conventions doivent l'autoriser",
        )
    ]


def unknown_crossing(f: Path) -> list[ConventionProblem]:
    edit(
        f,
        "caf31.yaml",
        "authorized_crossings:\n",
        "authorized_crossings:\n  - convention: msa31\n",
    )
    return [
        problem(
            f,
            "caf31.yaml",
            "- convention: msa31",
            "croisement avec msa31 : aucune convention ne porte cet identifiant",
        )
    ]


def self_crossing(f: Path) -> list[ConventionProblem]:
    edit(f, "ftocc.yaml", "  - convention: cd31", "  - convention: ftocc")
    return [
        problem(
            f,
            "cd31.yaml",
            "- convention: ftocc",
            "croisement avec ftocc autorisé ici mais pas par ftocc.yaml : "
            "les deux conventions doivent l'autoriser",
        ),
        problem(
            f,
            "ftocc.yaml",
            "- convention: ftocc",
            "une convention ne peut pas autoriser un croisement avec elle-même (ftocc)",
        ),
    ]


def different_purposes(f: Path) -> list[ConventionProblem]:
    edit(f, "ftocc.yaml", "id: tznr_non_recours", "id: insertion_pro")

    def other(file: str) -> ConventionProblem:
        return problem(
            f,
            file,
            "- convention: ftocc",
            "croisement avec ftocc : finalités différentes "
            "(tznr_non_recours ici, insertion_pro dans ftocc.yaml)",
        )

    return [
        other("caf31.yaml"),
        other("cd31.yaml"),
        problem(
            f,
            "ftocc.yaml",
            "- convention: caf31",
            "croisement avec caf31 : finalités différentes "
            "(insertion_pro ici, tznr_non_recours dans caf31.yaml)",
        ),
        problem(
            f,
            "ftocc.yaml",
            "- convention: cd31",
            "croisement avec cd31 : finalités différentes "
            "(insertion_pro ici, tznr_non_recours dans cd31.yaml)",
        ),
    ]


def duplicate_id(f: Path) -> list[ConventionProblem]:
    shutil.copy(f / "caf31.yaml", f / "caf31_v2.yaml")
    return [
        problem(
            f,
            "caf31.yaml",
            "id: caf31",
            "identifiant caf31 en double : aussi utilisé par caf31_v2.yaml",
        ),
        problem(
            f,
            "caf31.yaml",
            "schema: caf31_allocataires",
            "le jeu de données caf31_allocataires est aussi déclaré par caf31_v2.yaml",
        ),
        problem(
            f,
            "caf31_v2.yaml",
            "id: caf31",
            "le fichier s'appelle caf31_v2.yaml mais la convention a pour identifiant caf31 : "
            "renommer le fichier en caf31.yaml",
        ),
        problem(
            f,
            "caf31_v2.yaml",
            "id: caf31",
            "identifiant caf31 en double : aussi utilisé par caf31.yaml",
        ),
        problem(
            f,
            "caf31_v2.yaml",
            "schema: caf31_allocataires",
            "le jeu de données caf31_allocataires est aussi déclaré par caf31.yaml",
        ),
    ]


def file_name_not_id(f: Path) -> list[ConventionProblem]:
    (f / "ftocc.yaml").rename(f / "france_travail.yaml")
    return [
        problem(
            f,
            "france_travail.yaml",
            "id: ftocc",
            "le fichier s'appelle france_travail.yaml mais la convention a pour identifiant "
            "ftocc : renommer le fichier en ftocc.yaml",
        )
    ]


def direct_identifier_kept(f: Path) -> list[ConventionProblem]:
    edit(
        f,
        "caf31.yaml",
        "treatment: drop\n        motif: inutile, la commune",
        "treatment: keep  # cassé\n        motif: inutile, la commune",
    )
    return [
        problem(
            f,
            "caf31.yaml",
            "# cassé",
            "caf31_allocataires.ADRESSE : un identifiant direct ne peut pas être conservé "
            "(keep) ; pseudonymize ou drop",
        )
    ]


def nir_declared_attribute_and_kept(f: Path) -> list[ConventionProblem]:
    edit(
        f,
        "cd31.yaml",
        "category: direct_identifier\n        treatment: pseudonymize\n        to: pseudo_nir\n",
        "category: attribute  # cassé\n        treatment: keep\n",
    )
    return [
        problem(
            f,
            "cd31.yaml",
            "# cassé",
            "cd31_usagers.NIR : catégorie attribute incohérente avec le schéma "
            "(rôle nir : direct_identifier attendu)",
        )
    ]


def free_text_kept(f: Path) -> list[ConventionProblem]:
    edit(
        f,
        "cd31.yaml",
        "category: free_text\n        treatment: drop",
        "category: free_text\n        treatment: keep  # cassé",
    )
    return [
        problem(
            f,
            "cd31.yaml",
            "# cassé",
            "cd31_usagers.OBSERVATIONS : un texte libre ne peut pas être conservé tel quel "
            "(keep) ; drop ou redact",
        )
    ]


def redact_outside_free_text(f: Path) -> list[ConventionProblem]:
    edit(
        f,
        "cd31.yaml",
        "treatment: drop\n        motif: inutile ; l'« aller-vers »",
        "treatment: redact  # cassé\n        motif: inutile ; l'« aller-vers »",
    )
    return [
        problem(
            f,
            "cd31.yaml",
            "# cassé",
            "cd31_usagers.TELEPHONE : redact ne s'applique qu'à un texte libre (free_text)",
        )
    ]


def pseudonym_of_another_role(f: Path) -> list[ConventionProblem]:
    edit(f, "caf31.yaml", "to: pseudo_foyer", "to: pseudo_nir  # cassé")
    return [
        problem(
            f,
            "caf31.yaml",
            "# cassé",
            "caf31_allocataires.NUMALLOC : une colonne de rôle foyer alimente pseudo_foyer, "
            "pas pseudo_nir",
        )
    ]


def pseudonymize_without_target(f: Path) -> list[ConventionProblem]:
    edit(f, "carsatmp.yaml", "        to: pseudo_nir\n", "")
    return [
        problem(
            f,
            "carsatmp.yaml",
            "      NIR:",
            "carsatmp_retraites.NIR : pseudonymize demande dans to un seul pseudonyme "
            "(pseudo_nir, pseudo_traits, pseudo_foyer, pseudo_identifiant)",
        )
    ]


def pseudonymize_attribute(f: Path) -> list[ConventionProblem]:
    edit(
        f,
        "carsatmp.yaml",
        "treatment: keep\n        motif: ASPA perçue",
        "treatment: pseudonymize\n        to: pseudo_traits  # cassé\n        motif: ASPA perçue",
    )
    return [
        problem(
            f,
            "carsatmp.yaml",
            "# cassé",
            "carsatmp_retraites.ASPA : colonne sans rôle d'identité dans le schéma, "
            "elle ne peut pas être pseudonymisée",
        )
    ]


def generalize_not_a_date(f: Path) -> list[ConventionProblem]:
    edit(
        f,
        "carsatmp.yaml",
        "treatment: keep\n        motif: territoire",
        "treatment: generalize  # cassé\n        motif: territoire",
    )
    return [
        problem(
            f,
            "carsatmp.yaml",
            "      CODE_INSEE_RESIDENCE:",
            "carsatmp_retraites.CODE_INSEE_RESIDENCE : generalize demande dans to une ou "
            "plusieurs généralisations (mois_naissance, annee_naissance, age, tranche_age)",
        ),
        problem(
            f,
            "carsatmp.yaml",
            "# cassé",
            "carsatmp_retraites.CODE_INSEE_RESIDENCE : generalize ne s'applique qu'à une date "
            "(colonne de type commune)",
        ),
    ]


def target_on_kept_field(f: Path) -> list[ConventionProblem]:
    edit(
        f,
        "ftocc.yaml",
        "treatment: keep\n        motif: demandeurs de catégorie",
        "treatment: keep\n        to: age\n        motif: demandeurs de catégorie",
    )
    return [
        problem(
            f,
            "ftocc.yaml",
            "to: age",
            "ftocc_demandeurs.CATEGORIE : to n'a de sens qu'avec pseudonymize ou generalize",
        )
    ]


def threshold_below_floor(f: Path) -> list[ConventionProblem]:
    edit(f, "caf31.yaml", "publication_threshold: 11 ", "publication_threshold: 5 ")
    return [
        problem(
            f,
            "caf31.yaml",
            "publication_threshold:",
            "seuil de publication 5 inférieur au plancher de 11",
        )
    ]


def dataset_in_two_conventions(f: Path) -> list[ConventionProblem]:
    shutil.copy(f / "cpam31.yaml", f / "msa31.yaml")
    edit(f, "msa31.yaml", "id: cpam31", "id: msa31")
    cut(f, "msa31.yaml", "authorized_crossings:", "# Qui reçoit quoi")
    edit(f, "msa31.yaml", "# Qui reçoit quoi", "authorized_crossings: []\n# Qui reçoit quoi")
    return [
        problem(
            f,
            "cpam31.yaml",
            "schema: cpam31_css",
            "le jeu de données cpam31_css est aussi déclaré par msa31.yaml",
        ),
        problem(
            f,
            "msa31.yaml",
            "schema: cpam31_css",
            "le schéma cpam31_css relève de la convention cpam31, pas de msa31",
        ),
        problem(
            f,
            "msa31.yaml",
            "schema: cpam31_css",
            "le jeu de données cpam31_css est aussi déclaré par cpam31.yaml",
        ),
    ]


def empty_file(f: Path) -> list[ConventionProblem]:
    (f / "ccas.yaml").write_text("# à compléter\n", encoding="utf-8")
    return [ConventionProblem("ccas.yaml", 1, "fichier vide : une convention est attendue")]


def register_entry_wrong_type(f: Path) -> list[ConventionProblem]:
    # "aucun" in words is not the empty list: a transfer must be described, or none listed
    edit(f, "carsatmp.yaml", "transfers_outside_eu: []", "transfers_outside_eu: aucun")
    return [
        problem(
            f, "carsatmp.yaml", "transfers_outside_eu:", "liste attendue pour transfers_outside_eu"
        )
    ]


def register_objection_contact_not_an_email(f: Path) -> list[ConventionProblem]:
    edit(f, "ftocc.yaml", "  contact: dpo@cd31.invalid", "  contact: le DPO")
    return [
        problem(
            f,
            "ftocc.yaml",
            "contact: le DPO",
            "format invalide pour objection.contact : « le DPO » (attendu : adresse électronique)",
        )
    ]


def register_processor_without_service(f: Path) -> list[ConventionProblem]:
    edit(f, "cd31.yaml", "processors: []", "processors:\n  - name: Infogérance 31")
    return [
        problem(
            f,
            "cd31.yaml",
            "- name: Infogérance 31",
            "service rendu par le sous-traitant manquant (processors[0].service)",
        )
    ]


BREAKS: list[Break] = [
    yaml_syntax,
    duplicate_key,
    impossible_date,
    missing_legal_basis,
    missing_dpo_email,
    misspelt_key,
    empty_value,
    wrong_treatment,
    wrong_target,
    wrong_threshold_type,
    wrong_date_type,
    negative_retention,
    bad_gdpr_article,
    no_article_6,
    person_level_recipient,
    end_before_start,
    signed_after_start,
    field_without_treatment,
    field_not_in_schema,
    unknown_schema,
    one_sided_crossing,
    unknown_crossing,
    self_crossing,
    different_purposes,
    duplicate_id,
    file_name_not_id,
    direct_identifier_kept,
    nir_declared_attribute_and_kept,
    free_text_kept,
    redact_outside_free_text,
    pseudonym_of_another_role,
    pseudonymize_without_target,
    pseudonymize_attribute,
    generalize_not_a_date,
    target_on_kept_field,
    threshold_below_floor,
    dataset_in_two_conventions,
    empty_file,
    register_entry_wrong_type,
    register_objection_contact_not_an_email,
    register_processor_without_service,
]


@pytest.mark.parametrize("broken", BREAKS, ids=[b.__name__ for b in BREAKS])
def test_problem_is_reported_exactly(folder: Path, broken: Break) -> None:
    expected = broken(folder)
    assert check_conventions(folder) == expected


def test_every_problem_is_reported_not_only_the_first(folder: Path) -> None:
    expected = threshold_below_floor(folder) + free_text_kept(folder) + one_sided_crossing(folder)
    problems = check_conventions(folder)
    assert sorted(problems) == sorted(expected)
    with pytest.raises(ConventionError) as caught:
        load_conventions(folder, REPO_SCHEMAS)
    assert caught.value.problems == problems


def test_load_convention_raises_with_located_french_problems(folder: Path) -> None:
    expected = missing_legal_basis(folder)
    with pytest.raises(ConventionError) as caught:
        load_convention(folder / "caf31.yaml", REPO_SCHEMAS)
    assert caught.value.problems == expected
    number = line(folder, "caf31.yaml", "id: caf31")
    assert str(caught.value) == f"caf31.yaml, ligne {number} : base légale manquante (legal_basis)"


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "vide").mkdir()
    assert check_conventions(tmp_path / "vide") == [
        ConventionProblem("vide", 0, "aucune convention (fichier .yaml) trouvée")
    ]
    assert str(check_conventions(tmp_path / "vide")[0]) == (
        "vide : aucune convention (fichier .yaml) trouvée"
    )


def test_missing_folder(tmp_path: Path) -> None:
    assert check_conventions(tmp_path / "absent") == [
        ConventionProblem("absent", 0, "dossier des conventions introuvable")
    ]


def test_unknown_schema_folder_is_reported(folder: Path, tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree(REPO_SCHEMAS, schemas)
    (schemas / "cpam31_css.yaml").write_text("dataset: [\n", encoding="utf-8")
    assert _check(folder, schemas) == [ConventionProblem("cpam31_css.yaml", 2, "schéma illisible")]


def test_run_check_prints_and_returns_status(folder: Path) -> None:
    out = io.StringIO()
    assert run_check(REPO_CONVENTIONS, REPO_SCHEMAS, out) == 0
    assert out.getvalue() == (
        f"5 convention(s) valide(s) dans {REPO_CONVENTIONS} : {', '.join(IDS)}\n"
    )
    expected = threshold_below_floor(folder)
    out = io.StringIO()
    assert run_check(folder, REPO_SCHEMAS, out) == 1
    assert out.getvalue() == f"{expected[0]}\n1 problème(s) dans {folder}\n"


# --- the Article 30 register: optional keys, warned about when missing -----------------------


def test_real_conventions_fill_the_article_30_register(real: Conventions) -> None:
    for convention in real.values():
        assert convention.missing_register_keys() == [], convention.id
        assert convention.transfers_outside_eu == ()  # none, said so
        assert convention.processors == ()
        assert convention.joint_controllers == ()
        assert convention.hosting is not None
        assert convention.hosting.location == "Toulouse (France)"
        assert convention.impact_assessment is not None
        assert convention.impact_assessment.reference == "AIPD-CD31-TZNR-2025-01"
        assert convention.impact_assessment.approved_on == date(2024, 11, 28)
        assert convention.objection is not None
        assert convention.objection.contact == "dpo@cd31.invalid"
        assert convention.data_subjects and convention.data_categories
        assert convention.security_measures and convention.information
    assert check_with_warnings(REPO_CONVENTIONS, REPO_SCHEMAS) == ([], [])


def _without_register_keys(folder: Path) -> None:
    """caf31 loses its hosting and AIPD; cpam31 leaves joint_controllers empty."""
    cut(folder, "caf31.yaml", "impact_assessment:", "# Sous-traitants")
    cut(folder, "caf31.yaml", "hosting:", "# Comment les personnes sont informées")
    edit(folder, "cpam31.yaml", "joint_controllers: []", "joint_controllers:")


def _warning(label: str, key: str) -> str:
    return (
        f"avertissement : registre de l'article 30 incomplet, « {label} » non renseigné ({key}) : "
        f"ajouter la clé {key} à la convention (voir conventions/README.md)"
    )


def test_missing_register_keys_are_warnings_not_errors(folder: Path) -> None:
    _without_register_keys(folder)
    first_key = line(folder, "caf31.yaml", "id: caf31")
    expected = [
        ConventionProblem(
            "caf31.yaml", first_key, _warning("analyse d'impact (AIPD)", "impact_assessment")
        ),
        ConventionProblem("caf31.yaml", first_key, _warning("hébergement", "hosting")),
        problem(
            folder,
            "cpam31.yaml",
            "joint_controllers:",
            _warning("responsables conjoints du traitement", "joint_controllers"),
        ),
    ]
    assert check_with_warnings(folder, REPO_SCHEMAS) == ([], expected)
    assert check_conventions(folder) == []
    conventions = load_conventions(folder, REPO_SCHEMAS)  # still loads: the pipeline runs
    assert conventions["caf31"].missing_register_keys() == ["impact_assessment", "hosting"]
    assert conventions["cpam31"].missing_register_keys() == ["joint_controllers"]
    out = io.StringIO()
    assert run_check(folder, REPO_SCHEMAS, out) == 0
    assert out.getvalue() == (
        "".join(f"{warning}\n" for warning in expected)
        + f"5 convention(s) valide(s) dans {folder} : {', '.join(IDS)} ; 3 avertissement(s)\n"
    )


def test_conventions_check_command_prints_warnings_and_exits_0(folder: Path) -> None:
    from click.testing import CliRunner

    from app.cli import cli

    _without_register_keys(folder)
    result = CliRunner().invoke(cli, ["conventions", "check", str(folder)])
    assert result.exit_code == 0, result.output
    first_key = line(folder, "caf31.yaml", "id: caf31")
    joint = line(folder, "cpam31.yaml", "joint_controllers:")
    aipd = _warning("analyse d'impact (AIPD)", "impact_assessment")
    assert result.output == (
        f"caf31.yaml, ligne {first_key} : {aipd}\n"
        f"caf31.yaml, ligne {first_key} : {_warning('hébergement', 'hosting')}\n"
        f"cpam31.yaml, ligne {joint} : "
        f"{_warning('responsables conjoints du traitement', 'joint_controllers')}\n"
        f"Conventions de {folder} : aucun problème ; 3 avertissement(s).\n"
    )
    # a real problem still fails, and the warnings are printed with it
    threshold_below_floor(folder)
    result = CliRunner().invoke(cli, ["conventions", "check", str(folder)])
    assert result.exit_code == 1
    assert result.output.endswith(f"1 problème(s) dans {folder} ; 3 avertissement(s)\n")
