"""Keyed pseudonyms: nobody can recompute them without the key, and two keys never link."""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import stat

import polars as pl
import pytest

from anonymization import pseudonymize
from anonymization.pseudonymize import (
    InvalidKeyError,
    MissingKeyError,
    Pseudonymizer,
    load_key,
    new_key_file,
)

NIRS = pl.Series("nir", ["185033155504232", "285032A00400196", None, "185033155504232"])


def test_pseudonym_is_rfc2104_hmac_sha256_under_a_domain_label():
    key = bytes(range(32))
    got = Pseudonymizer(key).pseudonyms(NIRS, "nir").to_list()
    expected = hmac.new(key, b"nir\x1f185033155504232", hashlib.sha256).hexdigest()
    assert got == [
        expected,
        hmac.new(key, b"nir\x1f285032A00400196", hashlib.sha256).hexdigest(),
        None,
        expected,
    ]


def _stdlib(key: bytes, domain: str, values: list[str | None]) -> list[str | None]:
    prefix = domain.encode() + b"\x1f"
    return [
        None if v is None else hmac.new(key, prefix + v.encode(), hashlib.sha256).hexdigest()
        for v in values
    ]


@pytest.mark.parametrize("seed", range(12))
def test_vectorised_hmac_is_the_stdlib_hmac_bit_for_bit(seed, monkeypatch):
    """Random keys (short, block-sized, longer than a block: hashed first) and values (empty,
    accented, 4-byte characters, NUL, separators, nulls); repeated values take the distinct-
    then-join path, and a small chunk size makes every series span several passes."""
    monkeypatch.setattr(pseudonymize, "CHUNK_ROWS", 97)
    rng = random.Random(seed)
    key = rng.randbytes(rng.choice([32, 33, 64, 65, 200]))
    alphabet = "az09 -|é€\x00\x1f𝄞ÿ"
    values = [
        None
        if rng.random() < 0.08
        else "".join(
            rng.choice(alphabet) for _ in range(rng.choice([0, 1, 15, rng.randint(0, 90)]))
        )
        for _ in range(rng.randint(1, 700))
    ]
    if seed % 2:
        values = values * 3  # mostly repeated: hashed once per distinct value
    domain = rng.choice(["nir", "foyer/caf31", "identifiant/ftocc", "appariement", "domaine é"])
    got = Pseudonymizer(key).pseudonyms(pl.Series("v", values, dtype=pl.String), domain)
    assert got.name == "v"
    assert got.dtype == pl.String
    assert got.to_list() == _stdlib(key, domain, values)


def test_fixed_width_values_all_null_and_empty_series():
    key = os.urandom(32)
    pseudonymizer = Pseudonymizer(key)
    nirs = [f"1850331555{i:05d}" for i in range(3_000)]  # one width: the grid layout
    assert pseudonymizer.pseudonyms(pl.Series("n", nirs), "nir").to_list() == _stdlib(
        key, "nir", nirs
    )
    nulls = pl.Series("n", [None, None], dtype=pl.String)
    assert pseudonymizer.pseudonyms(nulls, "nir").to_list() == [None, None]
    empty = pseudonymizer.pseudonyms(pl.Series("n", [], dtype=pl.String), "nir")
    assert empty.len() == 0
    assert empty.dtype == pl.String


def test_without_the_key_a_known_nir_does_not_give_its_pseudonym():
    """An attacker holding the code and a list of NIRs tries every unkeyed construction."""
    pseudonym = Pseudonymizer(os.urandom(32)).pseudonyms(NIRS, "nir")[0]
    value = b"185033155504232"
    attempts = {
        hashlib.sha256(value).hexdigest(),
        hashlib.sha256(b"nir\x1f" + value).hexdigest(),
        hmac.new(b"", b"nir\x1f" + value, hashlib.sha256).hexdigest(),
        hmac.new(b"\x00" * 32, b"nir\x1f" + value, hashlib.sha256).hexdigest(),
        Pseudonymizer(b"\x00" * 32).pseudonyms(NIRS, "nir")[0],
    }
    assert pseudonym not in attempts


def test_two_keys_give_unlinkable_pseudonyms():
    many = pl.Series("nir", [f"1850331555{i:05d}" for i in range(5_000)])
    first = set(Pseudonymizer(os.urandom(32)).pseudonyms(many, "nir").to_list())
    second = set(Pseudonymizer(os.urandom(32)).pseudonyms(many, "nir").to_list())
    assert len(first) == len(second) == 5_000
    assert first.isdisjoint(second)


def test_domains_separate_kinds_of_values():
    pseudonymizer = Pseudonymizer(os.urandom(32))
    same = pl.Series("v", ["1234567"])
    assert pseudonymizer.pseudonyms(same, "nir")[0] != pseudonymizer.pseudonyms(same, "traits")[0]


def test_repr_and_fingerprint_never_show_the_key():
    key = os.urandom(32)
    pseudonymizer = Pseudonymizer(key)
    assert key.hex() not in repr(pseudonymizer)
    assert key.hex()[:16] not in pseudonymizer.fingerprint
    assert len(pseudonymizer.fingerprint) == 16


def test_no_key_no_run():
    with pytest.raises(MissingKeyError, match="RECOURS_PSEUDO_KEY"):
        load_key({})


def test_short_or_malformed_keys_are_refused(tmp_path):
    with pytest.raises(InvalidKeyError, match="32 octets"):
        load_key({"RECOURS_PSEUDO_KEY": "ab" * 16})
    with pytest.raises(InvalidKeyError, match="hexadécimale"):
        load_key({"RECOURS_PSEUDO_KEY": "pas-une-cle"})
    with pytest.raises(MissingKeyError, match="n'existe pas"):
        load_key({"RECOURS_PSEUDO_KEY_FILE": str(tmp_path / "absente.hex")})


def test_key_file_is_private_and_loads(tmp_path):
    path = new_key_file(tmp_path / "secrets" / "cle.hex")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_key({"RECOURS_PSEUDO_KEY_FILE": str(path)})
    assert loaded.key == bytes.fromhex(path.read_text().strip())
