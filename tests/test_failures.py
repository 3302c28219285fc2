"""Every failure is a message (issue 11, item 4), through the real entry point ``main()``.

The session's synthetic home (tests/conftest.py), ingested and published once for real; each
test runs ``recours`` on a copy of it, in this process, with one failure simulated where the
system would raise it: a read-only ``published/`` and a full disk (tests run as root, on whom
``chmod 0555`` has no effect, so the writer is patched to raise the ``OSError`` the kernel
would), an unwritable home, a period with no delivery, debris left by a killed run. Each
checks the exact French message, the exit code, that no traceback is printed, and that the last
publication is intact.
"""

from __future__ import annotations

import errno
import getpass
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from app import cli
from recours.errors import failure_message
from recours.home import Home

PERIOD = "2025-06"


def flat(text: str) -> str:
    """Rich folds long lines at spaces: one space between words gives the message back."""
    return " ".join(text.split())


@pytest.fixture
def home(world, tmp_path, monkeypatch) -> Home:
    """A copy of the session's world (tests/conftest.py), ingested and published for real."""
    assert world.period == PERIOD
    target = world.copy_to(tmp_path / "home")
    monkeypatch.setenv("RECOURS_PSEUDO_KEY", world.key)
    monkeypatch.delenv("RECOURS_PSEUDO_KEY_FILE", raising=False)
    return target


@pytest.fixture(autouse=True)
def keep_umask():
    """main() sets umask 077 for the process: give pytest its own back."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield
    os.umask(previous)


def recours(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    """``recours ARGS`` through main(): (exit code, what it printed, stderr)."""
    monkeypatch.setattr(sys, "argv", ["recours", *args])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    captured = capsys.readouterr()
    return exit_.value.code, captured.out, captured.err


def error(out: str) -> str:
    assert out.count("Erreur :") == 1, out[-2000:]
    return flat(out[out.index("Erreur :") :])


def publication(home: Home) -> dict[str, bytes]:
    """Every file of published/ (the report and exports included), with its bytes."""
    return {
        str(p.relative_to(home.published)): p.read_bytes()
        for p in sorted(home.published.rglob("*"))
        if p.is_file()
    }


def test_a_read_only_published_folder_is_a_message_and_the_publication_stays(
    home, capsys, monkeypatch
):
    import pipelines.publish.write as write

    before = publication(home)
    refused: list[Path] = []

    def read_only(temporary: Path, final: Path) -> None:
        refused.append(final)
        raise OSError(errno.EROFS, "Read-only file system", str(final))

    monkeypatch.setattr(write, "_install", read_only)

    code, out, err = recours(capsys, monkeypatch, "run", "--home", str(home.root))

    assert code == 1
    assert error(out) == (
        f"Erreur : système de fichiers en lecture seule : impossible d'écrire {refused[0]}. Le "
        "remonter en lecture-écriture, ou choisir un autre dossier de travail (--home, "
        "RECOURS_HOME), puis relancer."
    )
    assert refused[0].parent == home.published
    assert "Traceback" not in out + err
    assert publication(home) == before  # nothing replaced, no temporary file left


def test_an_unwritable_published_folder_is_a_message_for_recours_rapport(home, capsys, monkeypatch):
    real_replace = os.replace
    refused: list[str] = []

    def replace(source, destination, *args, **kwargs):
        if Path(destination).parent == home.published:
            refused.append(str(destination))
            raise PermissionError(errno.EACCES, "Permission denied", str(destination))
        return real_replace(source, destination, *args, **kwargs)

    before = publication(home)
    monkeypatch.setattr(os, "replace", replace)

    code, out, err = recours(capsys, monkeypatch, "rapport", "--home", str(home.root))

    assert code == 1
    assert refused == [str(home.published / f"rapport_{PERIOD}.html")]
    assert error(out) == (
        f"Erreur : accès refusé à {refused[0]} pour le compte {getpass.getuser()} : donner à ce "
        "compte le droit de lire et d'écrire le dossier de travail (chown ou chmod sur "
        f"{home.root}), puis relancer."
    )
    assert "Traceback" not in out + err
    assert publication(home) == before


def test_a_full_disk_is_a_message_and_leaves_no_debris(home, capsys, monkeypatch):
    import pipelines.publish.write as write

    before = publication(home)
    real_csv = write.french_csv

    def disk_full(frame, path: Path) -> None:
        real_csv(frame.head(3), path)  # a few bytes went through, then the disk filled up
        raise OSError(errno.ENOSPC, "No space left on device")  # write(2) names no file

    monkeypatch.setattr(write, "french_csv", disk_full)

    code, out, err = recours(capsys, monkeypatch, "run", "--home", str(home.root))

    assert code == 1
    assert error(out) == (
        f"Erreur : disque plein : impossible d'écrire un fichier du dossier de travail "
        f"{home.root}. Libérer de la place sur ce disque (df -h {home.root}), puis relancer : "
        "la publication précédente est restée en place, et les fichiers temporaires laissés "
        "sont supprimés par la prochaine exécution."
    )
    assert "Traceback" not in out + err
    assert publication(home) == before
    assert not list(home.root.glob("warehouse.duckdb.*"))


def test_an_unwritable_home_is_a_message_and_debug_shows_the_trace(home, capsys, monkeypatch):
    real_open = os.open
    lock = home.root.resolve() / ".recours.lock"

    def unwritable(path, flags, *args, **kwargs):
        if Path(os.fsdecode(path)) == lock and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", unwritable)
    expected = (
        f"Erreur : accès refusé à {lock} pour le compte {getpass.getuser()} : donner à ce compte "
        "le droit de lire et d'écrire le dossier de travail (chown ou chmod sur "
        f"{home.root}), puis relancer."
    )

    code, out, err = recours(capsys, monkeypatch, "run", "--home", str(home.root))
    assert (code, error(out)) == (1, expected)
    assert "Traceback" not in out + err

    code, out, err = recours(capsys, monkeypatch, "--debug", "run", "--home", str(home.root))
    assert (code, error(out)) == (1, expected)
    assert "Traceback (most recent call last)" in err and "PermissionError" in err


def test_a_home_below_a_file_is_a_message(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "fichier"
    blocker.write_text("", encoding="utf-8")
    home = blocker / "home"

    code, out, err = recours(capsys, monkeypatch, "purge", "--home", str(home))

    assert code == 1
    assert error(out) == (
        f"Erreur : {home.resolve()} : un fichier se trouve là où un dossier est attendu (ou "
        "l'inverse) : vérifier le dossier de travail (--home, RECOURS_HOME), puis relancer."
    )
    assert "Traceback" not in out + err


def test_a_period_with_no_delivery_is_a_message(home, capsys, monkeypatch):
    before = publication(home)

    code, out, err = recours(
        capsys, monkeypatch, "run", "--home", str(home.root), "--period", "2025-05"
    )

    assert code == 2
    message = error(out)
    assert message.startswith(
        "Erreur : période 2025-05 : aucun indicateur ne peut être calculé (rsa : aucune "
        "livraison acceptée de caf31 pour la période ;"
    ), message
    assert message.endswith("rien n'est publié, la publication précédente reste en place")
    assert "Traceback" not in out + err
    assert publication(home) == before


def test_the_next_writer_removes_what_a_killed_run_left(home, capsys, monkeypatch):
    debris = [
        home.root / "warehouse.duckdb.en-cours",
        home.root / "warehouse.duckdb.en-cours.wal",
        home.published / ".recours.duckdb.5f3a9c0d.tmp",
        home.published / ".recours.duckdb.5f3a9c0d.tmp.wal",
        home.published / ".indicateurs.parquet.5f3a9c0d.tmp",
        home.published / ".precedente.5f3a9c0d.tmp",
        home.root / ".recours.lock.json.5f3a9c0d.tmp",
    ]
    for path in debris:
        path.write_bytes(b"\0" * 64)
    before = publication(home)

    code, out, err = recours(
        capsys, monkeypatch, "purge", "--home", str(home.root), "--date", "2025-07-01"
    )

    assert code == 0, out + err
    assert [p for p in debris if p.exists()] == []
    assert publication(home) == {k: v for k, v in before.items() if not k.startswith(".")}


def test_unexpected_errors_are_worded_from_their_kind_and_path_only(tmp_path):
    home = tmp_path / "home"
    missing = tmp_path / "absent" / "base.duckdb"
    with pytest.raises(duckdb.IOException) as caught:
        duckdb.connect(str(missing))
    assert failure_message(caught.value, home) == (
        f"{missing} n'existe pas (ou plus) : vérifier le dossier de travail (--home, "
        "RECOURS_HOME) et qu'aucun autre programme ne le déplace, puis relancer."
    )
    secret = "DUPONT Jean 185057800608436"  # what a data error could quote: never shown
    assert failure_message(ValueError(secret), home) == (
        "erreur inattendue (ValueError) : rien n'a été publié à moitié, la publication "
        "précédente reste en place. Relancer avec « recours --debug … » pour voir la trace "
        "(elle peut citer des données : ne pas la diffuser), et la transmettre à l'équipe qui "
        "maintient recours."
    )
    assert failure_message(OSError(errno.EIO, "Input/output error", "/srv/x"), home) == (
        "erreur d'entrée-sortie sur /srv/x (Input/output error) : vérifier le disque, le "
        "montage et les droits du dossier de travail, puis relancer."
    )
    assert failure_message(OSError(errno.ENOSPC, "No space left on device"), None).startswith(
        "disque plein : impossible d'écrire un fichier (chemin non précisé par le système). "
        "Libérer de la place sur ce disque (df -h le dossier de travail)"
    )


HOLD_DUCKDB = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])
    print("ouvert", flush=True)
    sys.stdin.read()
    """
)


def test_a_database_held_by_another_program_is_named(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_DUCKDB, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ouvert"
        with pytest.raises(duckdb.IOException) as caught:
            duckdb.connect(str(database))
    finally:
        holder.stdin.close()
        holder.wait(timeout=120)
    assert failure_message(caught.value, tmp_path) == (
        f"{database} est ouvert en écriture par un autre programme (DBeaver, Python, une autre "
        "commande) : le fermer, puis relancer."
    )


def test_a_journal_that_cannot_take_the_publication_event_publishes_nothing(
    home, capsys, monkeypatch
):
    """The publication's events are written and synced before its files are moved into place:
    when the journal refuses them (disk full at that moment), the last publication stays."""
    from recours import audit_log

    before = publication(home)
    events_before = [e["evenement"] for e in audit_log.read_events(home.audit)]
    real_append = audit_log.append_event

    def full_at_publication(audit_dir, kind, **fields):
        if kind == "croisement_publie":
            raise audit_log.JournalError(
                f"impossible d'écrire dans {audit_log.journal_path(audit_dir)} (disque plein) : "
                "rien n'a été enregistré."
            )
        return real_append(audit_dir, kind, **fields)

    monkeypatch.setattr(audit_log, "append_event", full_at_publication)

    code, out, err = recours(capsys, monkeypatch, "run", "--home", str(home.root))

    assert code == 2
    assert error(out).startswith(
        f"Erreur : impossible d'écrire dans {home.audit / 'journal.jsonl'} (disque plein)"
    )
    assert "Traceback" not in out + err
    assert publication(home) == before  # nothing replaced, no temporary file left
    after = [e["evenement"] for e in audit_log.read_events(home.audit)]
    assert after.count("croisement_publie") == events_before.count("croisement_publie")
