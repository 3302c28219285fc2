"""The journal's anchor (``audit/journal.ancre``): losses found with no DPO report, kept
reported until a person acknowledges them, and appends that write everything or nothing.

Every check goes through the real command line (``recours audit verify``, ``recours audit``,
``recours audit acquitter``) on a home made by ``recours synth``. Its journal holds the events
the ingestion writes first (``convention_ajoutee`` by the real recorder, then one
``livraison_recue`` per synthetic delivery): running the whole ingestion would take a minute
and add nothing to what is tested here, which is the journal.
"""

from __future__ import annotations

import errno
import hashlib
import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from app.cli import cli
from recours import audit_log
from recours.audit_log import (
    JournalError,
    anchor_path,
    append_event,
    journal_path,
    read_events,
)
from recours.convention_events import record_convention_changes
from recours.conventions import load_conventions
from recours.home import Home

PERIOD = "2025-06"
TODAY = date(2025, 7, 15)
BY = "DPO du CD31"
WHY = "sauvegarde du 14/07 restaurée après une panne disque ; deux événements perdus"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("ancre") / "home"
    result = CliRunner().invoke(
        cli, ["synth", "--home", str(home), "--persons", "300", "--seed", "3", "--period", PERIOD]
    )
    assert result.exit_code == 0, result.output
    audit = Home(home).audit
    record_convention_changes(audit, load_conventions(None), None, TODAY)
    for delivery in sorted(p for p in Home(home).landing.glob("*/*") if p.is_file()):
        append_event(
            audit,
            "livraison_recue",
            convention=delivery.parent.name,
            fichier=delivery.name,
            sha256=hashlib.sha256(delivery.read_bytes()).hexdigest(),
        )
    return home


@pytest.fixture
def home(source, tmp_path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("landing", "truth"))
    return copy


def _run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def _verify(home: Path) -> Result:
    return _run("audit", "verify", "--home", str(home))


def _report(home: Path) -> dict:
    result = _run("audit", "--home", str(home), "--date", TODAY.isoformat())
    assert result.exit_code == 0, result.output
    return json.loads((home / "audit" / "rapport_dpo.json").read_text(encoding="utf-8"))


def _acquit(home: Path) -> Result:
    return _run("audit", "acquitter", "--home", str(home), "--par", BY, "--motif", WHY)


def _lines(home: Path) -> list[bytes]:
    return journal_path(home / "audit").read_bytes().splitlines(keepends=True)


def _truncate(home: Path, keep: int) -> None:
    journal_path(home / "audit").write_bytes(b"".join(_lines(home)[:keep]))


def _journal(home: Path) -> str:
    return str(journal_path(home / "audit"))


# --- a journal as it should be ------------------------------------------------------------


def test_each_append_keeps_the_anchor_on_the_last_event_and_both_files_private(home):
    audit = home / "audit"
    events = read_events(audit)
    n, head = len(events), events[-1]
    assert n >= 10 and head["seq"] == n
    anchor = json.loads(anchor_path(audit).read_text(encoding="utf-8"))
    assert {k: anchor[k] for k in ("evenements", "seq", "hash", "journal", "format")} == {
        "evenements": n,
        "seq": n,
        "hash": head["hash"],
        "journal": "journal.jsonl",
        "format": 1,
    }
    assert (
        journal_path(audit).stat().st_mode & 0o777,
        anchor_path(audit).stat().st_mode & 0o777,
    ) == (
        0o600,
        0o600,
    )
    result = _verify(home)
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"Journal : {_journal(home)} (ancre : {anchor_path(audit)})\n"
        f"Chaîne intacte : {n} événement(s).\n"
        f"Sceau : événement n° {n}, empreinte {head['hash']}\n"
    )
    assert not (audit / "rapport_dpo.json").exists()


# --- losses found with no DPO report ------------------------------------------------------


@pytest.mark.parametrize("how", ["tronque", "vide", "supprime", "copie_partielle"])
def test_a_lost_end_is_found_with_no_dpo_report(home, how):
    n = len(_lines(home))
    path = journal_path(home / "audit")
    anchor = "le fichier d'ancrage journal.ancre"
    if how == "tronque":
        _truncate(home, n - 2)
        expected = (
            f"CHAÎNE ROMPUE à la ligne {n - 1} : le journal s'arrête à l'événement n° {n - 2} "
            f"alors que {anchor} en comptait {n} : des événements ont été supprimés à la fin\n"
            f"Les lignes 1 à {n - 2} sont intactes.\n"
        )
    elif how == "vide":
        path.write_bytes(b"")
        expected = (
            f"CHAÎNE ROMPUE à la ligne 1 : le journal est vide alors que {anchor} en comptait "
            f"{n} : tous ses événements ont été supprimés\n"
        )
    elif how == "supprime":
        path.unlink()
        expected = (
            f"CHAÎNE ROMPUE à la ligne 1 : le journal a disparu alors que {anchor} en comptait "
            f"{n} : il a été supprimé ou déplacé\n"
        )
    else:  # a copy cut in the middle of line 4
        data = path.read_bytes()
        cut = len(b"".join(_lines(home)[:3])) + 40
        path.write_bytes(data[:cut])
        expected = (
            "CHAÎNE ROMPUE à la ligne 4 : ligne illisible, sans empreinte ou sans numéro\n"
            "Les lignes 1 à 3 sont intactes.\n"
            "Autre rupture non acquittée, ligne 5 : le journal s'arrête à l'événement n° 3 "
            f"alors que {anchor} en comptait {n} : des événements ont été supprimés à la fin\n"
        )
    result = _verify(home)
    assert result.exit_code == 1, result.output
    assert expected in result.output
    assert result.output.endswith(
        "Après enquête (docs/dpo.md, « Vérifier le journal d'audit ») : recours audit "
        f'acquitter --home {home} --par "NOM" --motif "CE QUE L\'ENQUÊTE A ÉTABLI"\n'
    )
    assert not (home / "audit" / "rapport_dpo.json").exists()


def test_a_deleted_or_edited_anchor_is_found(home):
    n = len(_lines(home))
    anchor = anchor_path(home / "audit")
    saved = anchor.read_bytes()
    anchor.unlink()
    result = _verify(home)
    assert result.exit_code == 1, result.output
    assert (
        f"CHAÎNE ROMPUE à la ligne {n + 1} : le fichier d'ancrage journal.ancre a disparu alors "
        f"que le journal compte {n} ligne(s) : la fin du journal n'est plus garantie (fichier "
        "supprimé, ou journal copié sans lui)\n"
        f"Les lignes 1 à {n} sont intactes.\n"
    ) in result.output
    edited = json.loads(saved)
    edited["evenements"] = edited["seq"] = n - 2  # made to agree with a truncation
    anchor.write_text(json.dumps(edited), encoding="utf-8")
    result = _verify(home)
    assert result.exit_code == 1, result.output
    assert (
        f"CHAÎNE ROMPUE à la ligne {n + 1} : le fichier d'ancrage journal.ancre est illisible "
        "ou a été modifié : la fin du journal n'est plus garantie\n"
    ) in result.output
    anchor.write_bytes(saved)
    assert _verify(home).exit_code == 0


# --- a break stays reported until a person acknowledges it --------------------------------


def test_a_truncation_stays_reported_across_reports_and_appends(home):
    """The former hole: two more `recours audit` re-sealed the shortened journal."""
    audit = home / "audit"
    n = len(_lines(home))
    sealed = _report(home)["chaine"]["sceau"]
    assert (sealed["seq"], sealed["date"]) == (n, TODAY.isoformat())
    _truncate(home, n - 2)
    for _ in range(2):
        facts = _report(home)
        assert facts["chaine"]["intacte"] is False
        assert facts["chaine"]["sceau"] == sealed  # the report does not re-seal over a break
        assert facts["alertes"][0]["texte"].startswith("Journal d'audit altéré : ligne ")
        result = _verify(home)
        assert result.exit_code == 1, result.output
        assert f"Comparé au sceau du rapport DPO du {TODAY} (événement n° {n}).\n" in result.output
    # A pipeline event appended after the loss: the loss is written into the chain first.
    event = append_event(audit, "echec_tache", dag="retention", tache="purger", tentative=1)
    detected, last = read_events(audit)[-2:]
    assert last == event
    assert (detected["evenement"], detected["seq"], detected["ligne"]) == (
        "rupture_detectee",
        n - 1,
        n - 1,
    )
    assert detected["attendu"] == {"seq": n, "hash": sealed["hash"]}
    assert detected["trouve"] == {"lignes": n - 2, "seq": n - 2}
    for _ in range(2):
        assert _report(home)["chaine"]["sceau"] == sealed
        result = _verify(home)
        assert result.exit_code == 1, result.output
        assert (
            f"CHAÎNE ROMPUE à la ligne {n - 1} : perte constatée le "
            f"{detected['horodatage'][:10]} à {detected['horodatage'][11:16]} UTC et non "
            f"acquittée : {detected['motif']}\n"
        ) in result.output
        assert (
            f"Autre rupture non acquittée, ligne {n} : l'événement n° {n} n'est plus celui que "
            f"le rapport DPO du {TODAY} a scellé : le journal a été réécrit\n"
        ) in result.output
    # Acknowledged at last: both the recorded loss and the report's seal it broke.
    assert _acquit(home).exit_code == 0
    ack = read_events(audit)[-1]
    assert ack["ruptures"] == [
        {"type": "constat", "seq": n - 1, "ligne": n - 1, "raison": detected["motif"]},
        {
            "type": "tete",
            "seq": n,
            "hash": sealed["hash"],
            "ligne": n,
            "raison": f"l'événement n° {n} n'est plus celui que le rapport DPO du {TODAY} a "
            "scellé : le journal a été réécrit",
        },
    ]
    assert _verify(home).exit_code == 0
    assert _report(home)["chaine"]["sceau"]["seq"] == n + 1


def test_acknowledging_is_journaled_clears_the_break_and_later_breaks_still_show(home):
    audit = home / "audit"
    n = len(_lines(home))
    sealed = _report(home)["chaine"]["sceau"]
    _truncate(home, n - 2)
    result = _acquit(home)
    assert result.exit_code == 0, result.output
    detected, ack = read_events(audit)[-2:]
    assert (detected["evenement"], detected["seq"]) == ("rupture_detectee", n - 1)
    assert (ack["evenement"], ack["seq"], ack["par"], ack["motif"]) == (
        "rupture_acquittee",
        n,
        BY,
        WHY,
    )
    seal_reason = (
        f"le journal s'arrête à l'événement n° {n - 2} alors que le rapport DPO du {TODAY} en "
        f"comptait {n} : des événements ont été supprimés à la fin"
    )
    assert ack["ruptures"] == [
        {
            "type": "tete",
            "seq": n,
            "hash": sealed["hash"],
            "ligne": n - 1,
            "raison": seal_reason,
        },
        {"type": "constat", "seq": n - 1, "ligne": n - 1, "raison": detected["motif"]},
    ]
    assert result.output == (
        f"Acquittée : ligne {n - 1} : {seal_reason}\n"
        f"Acquittée : ligne {n - 1} : {detected['motif']}\n"
        f"Acquittement inscrit au journal (événement n° {n}, rupture_acquittee) ; les ruptures "
        "qui apparaîtraient ensuite seront signalées.\n"
    )
    when = f"{ack['horodatage'][:10]} à {ack['horodatage'][11:16]} UTC"
    result = _verify(home)
    assert result.exit_code == 0, result.output
    assert (
        f"Rupture acquittée le {when} par {BY} (ligne {n}) : {seal_reason} ; "
        f"{detected['motif']}. Motif : {WHY}\n"
        f"Chaîne intacte : {n} événement(s), ruptures acquittées mises à part.\n"
    ) in result.output
    # Nothing to acknowledge now: nothing is written.
    before = journal_path(audit).read_bytes()
    result = _acquit(home)
    assert (result.exit_code, result.output) == (
        0,
        f"Rien à acquitter : le journal {_journal(home)} est intact.\n",
    )
    assert journal_path(audit).read_bytes() == before
    # The next report seals the new head, and the one after compares with it.
    facts = _report(home)
    assert facts["chaine"]["intacte"] is True
    assert facts["chaine"]["sceau"]["seq"] == n
    assert [e["evenement"] for e in facts["journal"]["notables"]][-2:] == [
        "rupture_detectee",
        "rupture_acquittee",
    ]
    assert _verify(home).exit_code == 0
    # Cutting the acknowledgement off brings back the loss it covered, and is a loss itself.
    _truncate(home, n - 1)
    result = _verify(home)
    assert result.exit_code == 1, result.output
    assert f"CHAÎNE ROMPUE à la ligne {n - 1} : perte constatée le " in result.output
    assert (
        f"Autre rupture non acquittée, ligne {n} : le journal s'arrête à l'événement n° {n - 1} "
        f"alors que le rapport DPO du {TODAY} en comptait {n} : "
    ) in result.output


def test_acknowledging_a_deleted_anchor_writes_a_new_one(home):
    audit = home / "audit"
    n = len(_lines(home))
    anchor_path(audit).unlink()
    result = _acquit(home)
    assert result.exit_code == 0, result.output
    detected, ack = read_events(audit)[-2:]
    assert detected["motif"].startswith("le fichier d'ancrage journal.ancre a disparu")
    assert (detected["attendu"], ack["ruptures"]) == (
        None,
        [{"type": "constat", "seq": n + 1, "ligne": n + 1, "raison": detected["motif"]}],
    )
    assert json.loads(anchor_path(audit).read_text(encoding="utf-8"))["seq"] == n + 2
    assert _verify(home).exit_code == 0


def test_an_acknowledged_changed_line_is_passed_over_and_a_new_change_is_not(home):
    def change(number: int, value: str) -> None:
        lines = _lines(home)
        event = json.loads(lines[number - 1])
        event["convention"] = value
        lines[number - 1] = (json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n").encode()
        journal_path(home / "audit").write_bytes(b"".join(lines))

    change(2, "zz")
    assert "CHAÎNE ROMPUE à la ligne 2 : le contenu a été modifié après écriture\n" in (
        _verify(home).output
    )
    assert _acquit(home).exit_code == 0
    assert _verify(home).exit_code == 0
    change(4, "zz")
    result = _verify(home)
    assert result.exit_code == 1, result.output
    assert (
        "CHAÎNE ROMPUE à la ligne 4 : le contenu a été modifié après écriture\n"
        "Les lignes 1 à 3 sont intactes, hormis les ruptures acquittées.\n"
    ) in result.output
    assert _acquit(home).exit_code == 0
    change(2, "yy")  # the acknowledged line changed again: a new break
    result = _verify(home)
    assert result.exit_code == 1, result.output
    assert "CHAÎNE ROMPUE à la ligne 2 : le contenu a été modifié après écriture\n" in (
        result.output
    )


def test_acknowledging_needs_a_name_and_a_reason(home):
    before = journal_path(home / "audit").read_bytes()
    args = ["audit", "acquitter", "--home", str(home), "--par", " ", "--motif", WHY]
    result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, JournalError)
    assert str(result.exception) == (
        "acquittement refusé : --par (qui acquitte) et --motif (ce que l'enquête a établi) ne "
        "peuvent pas être vides"
    )
    assert journal_path(home / "audit").read_bytes() == before


# --- an append writes everything or nothing -----------------------------------------------


def test_a_journal_that_is_a_folder_cannot_be_appended_to(tmp_path):
    audit = tmp_path / "audit"
    journal_path(audit).mkdir(parents=True)
    with pytest.raises(JournalError) as caught:
        append_event(audit, "publication", periode=PERIOD, verdict="conforme")
    assert str(caught.value) == (
        f"impossible d'écrire dans {journal_path(audit)} (un dossier porte ce nom) : rien n'a "
        f"été enregistré. Libérer de la place ou rendre {audit} inscriptible par le compte qui "
        "exécute recours, puis relancer."
    )


def test_an_audit_folder_that_is_a_file_cannot_be_appended_to(tmp_path):
    audit = tmp_path / "audit"
    audit.write_bytes(b"")
    with pytest.raises(JournalError, match="un fichier porte le nom du dossier"):
        append_event(audit, "publication", periode=PERIOD, verdict="conforme")


def test_a_full_disk_leaves_journal_and_anchor_as_they_were(home, monkeypatch):
    audit = home / "audit"
    journal, anchor = journal_path(audit).read_bytes(), anchor_path(audit).read_bytes()

    def full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(audit_log.os, "fsync", full)
    with pytest.raises(JournalError) as caught:
        append_event(audit, "publication", periode=PERIOD, verdict="conforme")
    assert str(caught.value).startswith(
        f"impossible d'écrire dans {journal_path(audit)} (disque plein) : rien n'a été "
        "enregistré (journal remis dans son état précédent). Libérer de la place"
    )
    monkeypatch.undo()
    assert journal_path(audit).read_bytes() == journal
    assert anchor_path(audit).read_bytes() == anchor
    assert _verify(home).exit_code == 0


def test_an_anchor_that_cannot_be_written_rolls_the_journal_back(home):
    audit = home / "audit"
    journal = journal_path(audit).read_bytes()
    anchor_path(audit).unlink()
    anchor_path(audit).mkdir()
    with pytest.raises(JournalError) as caught:
        append_event(audit, "publication", periode=PERIOD, verdict="conforme")
    assert str(caught.value).startswith(
        f"impossible d'écrire dans {anchor_path(audit)} (un dossier porte ce nom) : rien n'a "
        "été enregistré (journal remis dans son état précédent)."
    )
    assert journal_path(audit).read_bytes() == journal
    assert not [p.name for p in audit.iterdir() if p.name.endswith(".tmp")]


def test_an_anchor_left_half_written_by_a_killed_writer_is_cleaned_by_the_next_append(home):
    audit = home / "audit"
    debris = audit / ".journal.ancre.0123456789abcdef.tmp"
    debris.write_bytes(b'{"seq": ')
    append_event(audit, "publication", periode=PERIOD, verdict="conforme")
    assert not debris.exists()
    assert _verify(home).exit_code == 0


def test_the_commands_say_it_in_french_with_no_traceback(home):
    """Through the installed entry point, as a user runs it (exit code 2, one message)."""
    journal = journal_path(home / "audit")
    journal.unlink()
    journal.mkdir()
    recours = Path(sys.executable).with_name("recours")
    for args, message in [
        (
            ["audit", "verify"],
            f"Erreur : {journal} est un dossier, pas le journal d'audit : le déplacer, puis "
            "relancer",
        ),
        (
            ["audit", "acquitter", "--par", BY, "--motif", WHY],
            f"Erreur : impossible d'écrire dans {journal} (un dossier porte ce nom) : rien n'a "
            "été enregistré.",
        ),
    ]:
        proc = subprocess.run(
            [str(recours), *args, "--home", str(home)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert message in " ".join(proc.stdout.split())  # the console wraps long lines
        assert "Traceback" not in proc.stdout + proc.stderr
