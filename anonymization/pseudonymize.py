"""The one pseudonymization function: keyed HMAC-SHA256 (DESIGN.md, invariant 2).

Keyed so that nobody holding the code and a list of NIRs can recompute a pseudonym; each kind
of value is hashed under its own domain label so that a NIR and a household number that happen
to share digits never share a pseudonym. HMAC is computed from precomputed inner and outer pads
(RFC 2104), which is what makes one core reach over a million values a second.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa

from recours.errors import RecoursError

KEY_ENV, KEY_FILE_ENV = "RECOURS_PSEUDO_KEY", "RECOURS_PSEUDO_KEY_FILE"
MIN_KEY_BYTES = 32


class MissingKeyError(RecoursError):
    """No pseudonymization key: nothing may run, since nothing could be pseudonymized."""


class InvalidKeyError(RecoursError):
    """The key is present but unusable (not hexadecimal, too short)."""


@dataclass(frozen=True)
class Pseudonymizer:
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) < MIN_KEY_BYTES:
            raise InvalidKeyError(
                f"la clé de pseudonymisation doit faire au moins {MIN_KEY_BYTES} octets "
                f"({2 * MIN_KEY_BYTES} caractères hexadécimaux)"
            )

    def __repr__(self) -> str:  # never print the key, even in a traceback
        return f"Pseudonymizer(empreinte={self.fingerprint})"

    @property
    def fingerprint(self) -> str:
        """What the audit log records instead of the key: it identifies, it does not reveal."""
        return hashlib.sha256(b"recours/empreinte-de-cle\x00" + self.key).hexdigest()[:16]

    def pseudonyms(self, values: pl.Series, domain: str) -> pl.Series:
        """HMAC of each non-null value under ``domain``, as 64 hex characters (null stays null).

        Repeated values (household numbers, one per member) are hashed once and joined back;
        mostly distinct ones (NIRs) are hashed straight, which saves the join.
        """
        block = self.key if len(self.key) <= 64 else hashlib.sha256(self.key).digest()
        block = block.ljust(64, b"\x00")
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
        inner.update(domain.encode() + b"\x1f")
        inner_copy, outer_copy = inner.copy, outer.copy

        def one(value: bytes) -> bytes:
            h = inner_copy()
            h.update(value)
            o = outer_copy()
            o.update(h.digest())
            return o.digest()

        def hex_digests(series: pl.Series) -> pl.Series:
            digests = b"".join(map(one, series.cast(pl.Binary).to_list()))
            array = pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(32), len(series), [None, pa.py_buffer(digests)]
            )
            return pl.Series(array).cast(pl.Binary).bin.encode("hex")

        present = values.drop_nulls()
        sample = present.head(10_000)
        if sample.n_unique() < 0.7 * len(sample):  # e.g. one household number per member
            distinct = present.unique()
            lookup = pl.DataFrame({"value": distinct, "pseudo": hex_digests(distinct)})
            joined = pl.DataFrame({"value": values}).join(
                lookup, on="value", how="left", maintain_order="left"
            )
            return joined["pseudo"].alias(values.name)
        if len(present) == len(values):
            return hex_digests(values).alias(values.name)
        result = pl.Series(values.name, [None] * len(values), dtype=pl.String)
        return result.scatter(values.is_not_null().arg_true(), hex_digests(present))


def load_key(environ: dict[str, str] | None = None) -> Pseudonymizer:
    """The key from ``RECOURS_PSEUDO_KEY`` (hex), or the file named by ``..._KEY_FILE``."""
    env = os.environ if environ is None else environ
    if env.get(KEY_ENV):
        text = env[KEY_ENV]
        origin = f"la variable {KEY_ENV}"
    elif env.get(KEY_FILE_ENV):
        path = Path(env[KEY_FILE_ENV])
        if not path.is_file():
            raise MissingKeyError(f"{KEY_FILE_ENV} désigne {path}, qui n'existe pas")
        text = path.read_text(encoding="ascii").strip()
        origin = f"le fichier {path}"
    else:
        raise MissingKeyError(
            "aucune clé de pseudonymisation : définir RECOURS_PSEUDO_KEY (hexadécimal) ou "
            "RECOURS_PSEUDO_KEY_FILE (fichier lisible du seul compte de service). "
            "Sans clé, rien n'est traité."
        )
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise InvalidKeyError(f"{origin} ne contient pas une clé hexadécimale") from None
    return Pseudonymizer(key)


def new_key_file(path: Path) -> Path:
    """A fresh random key, readable by its owner only (mode 0600); used by ``recours demo``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(os.urandom(32).hex() + "\n")
    os.chmod(path, 0o600)
    return path
