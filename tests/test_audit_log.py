"""The audit log's hash chain: any change to any byte is found, at the right line."""

from __future__ import annotations

import json

import pytest

from recours.audit_log import (
    Anchor,
    anchor_path,
    append_event,
    check_chain,
    journal_path,
    read_events,
    verify_chain,
)


@pytest.fixture
def journal(tmp_path):
    for n in range(5):
        append_event(tmp_path, "livraison_recue", fichier=f"F{n}.csv", lignes=n)
    return tmp_path


def test_events_are_chained_and_numbered(journal):
    events = read_events(journal)
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert events[0]["precedent"] == "0" * 64
    assert all(b["precedent"] == a["hash"] for a, b in zip(events, events[1:], strict=False))
    assert verify_chain(journal) == (True, None, "chaîne intacte (5 événements)")


@pytest.mark.parametrize("line", [1, 3, 5])
def test_a_changed_value_is_found_at_its_line(journal, line):
    path = journal_path(journal)
    lines = path.read_text(encoding="utf-8").splitlines()
    event = json.loads(lines[line - 1])
    event["lignes"] = 999
    lines[line - 1] = json.dumps(event, ensure_ascii=False, sort_keys=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ok, broken, message = verify_chain(journal)
    assert (ok, broken) == (False, line)
    assert message == f"ligne {line} : le contenu a été modifié après écriture"


def test_a_deleted_line_breaks_the_chain_at_the_next_one(journal):
    path = journal_path(journal)
    lines = path.read_text(encoding="utf-8").splitlines()
    del lines[1]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert verify_chain(journal)[:2] == (False, 2)


def test_every_single_byte_flip_is_detected(journal):
    path = journal_path(journal)
    original = path.read_bytes()
    for offset in range(0, len(original), 7):
        flipped = bytearray(original)
        flipped[offset] = ord("x") if flipped[offset] != ord("x") else ord("y")
        path.write_bytes(bytes(flipped))
        ok, broken, _ = verify_chain(journal)
        expected_line = original[:offset].count(b"\n") + 1
        if original[offset : offset + 1] == b"\n":
            assert not ok
        else:
            assert (ok, broken) == (False, expected_line), offset
    path.write_bytes(original)
    assert verify_chain(journal)[0]


def _write(journal, lines):
    journal_path(journal).write_bytes(b"".join(lines))


def _raw(journal):
    return journal_path(journal).read_bytes().splitlines(keepends=True)


def test_a_swapped_pair_breaks_at_the_first_of_the_two(journal):
    lines = _raw(journal)
    _write(journal, [lines[0], lines[2], lines[1], *lines[3:]])
    status = check_chain(journal)
    assert (status.intact, status.line, status.events, status.last_seq) == (False, 2, 1, 1)
    assert status.message == (
        "ligne 2 : le chaînage est rompu : l'événement n° 3 se trouve là où le n° 2 était "
        "attendu (événements supprimés, insérés ou déplacés)"
    )


def test_a_deleted_first_line_breaks_at_line_one(journal):
    _write(journal, _raw(journal)[1:])
    assert verify_chain(journal)[:2] == (False, 1)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda line: line.replace(b", ", b",  ", 1), "la forme de la ligne a été modifiée"),
        (lambda line: line.replace(b"\n", b"\r\n"), "la forme de la ligne a été modifiée"),
        (lambda line: line.replace(b"F2", b"F\\u0032"), "la forme de la ligne a été modifiée"),
        (lambda line: line[:10] + b"\xff" + line[11:], "octets illisibles"),
    ],
    ids=["espace", "crlf", "echappement", "octet_invalide"],
)
def test_a_change_of_form_alone_is_found(journal, change, reason):
    """Same JSON content, other bytes: still a change to the record."""
    lines = _raw(journal)
    _write(journal, [*lines[:2], change(lines[2]), *lines[3:]])
    ok, line, message = verify_chain(journal)
    assert (ok, line) == (False, 3)
    assert message.startswith(f"ligne 3 : {reason}")


def test_a_missing_final_newline_is_found(journal):
    lines = _raw(journal)
    _write(journal, [*lines[:-1], lines[-1].rstrip(b"\n")])
    assert verify_chain(journal) == (
        False,
        5,
        "ligne 5 : la dernière ligne n'a pas de fin de ligne (tronquée ?)",
    )


def test_lines_deleted_at_the_end_are_found_against_the_anchor_and_a_seal(journal):
    head = read_events(journal)[-1]
    seal = Anchor(head["seq"], head["hash"], "rapport DPO du 2026-01-01")
    assert check_chain(journal, seal).intact
    _write(journal, _raw(journal)[:-2])
    status = check_chain(journal)  # a shorter chain is still a chain: the anchor shows the loss
    assert (status.intact, status.line, status.events, status.last_seq) == (False, 4, 3, 3)
    assert status.reason == (
        "le journal s'arrête à l'événement n° 3 alors que le fichier d'ancrage journal.ancre en "
        "comptait 5 : des événements ont été supprimés à la fin"
    )
    status = check_chain(journal, seal)  # both see it; the report's seal is named first
    assert status.reason == (
        "le journal s'arrête à l'événement n° 3 alors que le rapport DPO du 2026-01-01 en "
        "comptait 5 : des événements ont été supprimés à la fin"
    )
    assert len(status.problems) == 2


def test_a_journal_rewritten_with_its_anchor_is_found_only_against_a_seal(journal):
    """The limit docs/dpo.md states: whoever rewrites both files is caught by an archived seal."""
    head = read_events(journal)[-1]
    seal = Anchor(head["seq"], head["hash"], "rapport DPO du 2026-01-01")
    journal_path(journal).unlink()
    anchor_path(journal).unlink()
    for n in range(5):
        append_event(journal, "livraison_recue", fichier=f"F{n}.csv", lignes=n + 100)
    assert check_chain(journal).intact
    status = check_chain(journal, seal)
    assert (status.intact, status.line) == (False, 5)
    assert status.reason == (
        "l'événement n° 5 n'est plus celui que le rapport DPO du 2026-01-01 a scellé : le "
        "journal a été réécrit"
    )


def test_a_journal_deleted_then_appended_to_records_the_loss_first(journal):
    head = read_events(journal)[-1]
    journal_path(journal).unlink()
    event = append_event(journal, "livraison_recue", fichier="G.csv", lignes=1)
    first, second = read_events(journal)
    assert (first["seq"], first["evenement"], first["precedent"]) == (
        1,
        "rupture_detectee",
        "0" * 64,
    )
    assert first["attendu"] == {"seq": 5, "hash": head["hash"]}
    assert first["trouve"] == {"lignes": 0, "seq": 0}
    assert first["motif"] == (
        "le journal a disparu alors que le fichier d'ancrage journal.ancre en comptait 5 : il a "
        "été supprimé ou déplacé"
    )
    assert (second, second["seq"]) == (event, 2)
    status = check_chain(journal)
    assert (status.intact, status.line) == (False, 1)
    assert status.reason.startswith("perte constatée le ")
    assert status.reason.endswith(f"et non acquittée : {first['motif']}")


def test_an_empty_journal_against_a_seal_lost_everything(tmp_path):
    status = check_chain(tmp_path, Anchor(3, "a" * 64, "rapport DPO du 2026-01-01"))
    assert (status.intact, status.line, status.events) == (False, 1, 0)
