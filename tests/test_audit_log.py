"""The audit log's hash chain: any change to any byte is found, at the right line."""

from __future__ import annotations

import json

import pytest

from recours.audit_log import append_event, journal_path, read_events, verify_chain


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
