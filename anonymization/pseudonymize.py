"""The one pseudonymization function: keyed HMAC-SHA256 (docs/architecture.md, invariant 2).

Keyed so that nobody holding the code and a list of NIRs can recompute a pseudonym; each kind
of value is hashed under its own domain label so that a NIR and a household number that happen
to share digits never share a pseudonym.

HMAC (RFC 2104) is spelt out as two plain SHA-256 passes done by polars-hash, a compiled loop
over a whole column: inner = SHA-256((key ⊕ ipad) ‖ domain ‖ 0x1f ‖ value), outer =
SHA-256((key ⊕ opad) ‖ inner digest). The prefixed inputs are laid out with numpy around the
column's Arrow buffers, so no Python code runs per value; the stdlib loop it replaces (one
``hashlib`` copy per value) was limited to about a million values a second on one core. The
pseudonyms are the same bytes as ``hmac.new(key, domain ‖ 0x1f ‖ value, sha256)``, which the
tests check on random keys and values: the pseudonymized zone, retention and key rotation rely
on them.
"""

from __future__ import annotations

import binascii
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import polars_hash as plh
import pyarrow as pa

from recours.errors import RecoursError

KEY_ENV, KEY_FILE_ENV = "RECOURS_PSEUDO_KEY", "RECOURS_PSEUDO_KEY_FILE"
MIN_KEY_BYTES = 32
CHUNK_ROWS = 1 << 18  # values hashed per pass: bounds the prefixed copies to tens of MB


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
        inner = bytes(b ^ 0x36 for b in block) + domain.encode() + b"\x1f"
        outer = bytes(b ^ 0x5C for b in block)

        def hex_digests(series: pl.Series) -> pl.Series:
            starts = range(0, len(series), CHUNK_ROWS)
            # polars and numpy let go of the GIL while they hash and copy: the chunks run on
            # every core, and map() keeps their order, so the pseudonyms are the same bytes.
            with ThreadPoolExecutor(max_workers=min(len(starts), os.cpu_count() or 1) or 1) as pool:
                parts = list(
                    pool.map(
                        lambda at: _hmac_hex(series.slice(at, CHUNK_ROWS), inner, outer), starts
                    )
                )
            return pl.concat(parts) if parts else pl.Series(values.name, [], dtype=pl.String)

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


def _sha256_hex(data: pa.Array) -> pl.Series:
    frame = pl.DataFrame({"x": pl.Series("x", data, dtype=pl.Binary)})
    return frame.select(plh.col("x").chash.sha2_256())["x"]


def _hmac_hex(values: pl.Series, inner: bytes, outer: bytes) -> pl.Series:
    """HMAC-SHA256 of non-null values, as hex, from the pads (inner pad already followed by
    the domain label and its separator)."""
    array = values.cast(pl.Binary).to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.large_binary():
        array = array.cast(pa.large_binary())
    inner_hex = _sha256_hex(_prefixed(array, inner))
    digests = _hex_bytes(inner_hex)  # n x 32 raw inner digests
    rows = len(digests)
    grid = np.empty((rows, 64 + 32), dtype=np.uint8)
    grid[:, :64] = np.frombuffer(outer, dtype=np.uint8)
    grid[:, 64:] = digests
    offsets = np.arange(0, 96 * (rows + 1), 96, dtype=np.int64)
    outer_input = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(grid)]
    )
    return _sha256_hex(outer_input).alias(values.name)


def _prefixed(array: pa.LargeBinaryArray, prefix: bytes) -> pa.LargeBinaryArray:
    """``prefix ‖ value`` for every value (no nulls), built in one buffer: polars has no binary
    concatenation, and Arrow's joins a prefix several times slower than this."""
    rows, width = len(array), len(prefix)
    _, offset_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=np.int64)[array.offset : array.offset + rows + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    relative = offsets - offsets[0]
    lengths = np.diff(relative)
    new_offsets = relative + np.arange(rows + 1, dtype=np.int64) * width
    out = np.empty(int(new_offsets[-1]), dtype=np.uint8)
    pattern = np.frombuffer(prefix, dtype=np.uint8)
    if rows and (lengths == lengths[0]).all():  # NIRs, digests: one grid, no mask
        grid = out.reshape(rows, width + int(lengths[0]))
        grid[:, :width] = pattern
        grid[:, width:] = data.reshape(rows, -1)
    elif rows:
        marks = np.zeros(len(out) + 1, dtype=np.int8)
        marks[new_offsets[:-1]] = 1
        marks[new_offsets[:-1] + width] -= 1
        is_prefix = np.cumsum(marks[:-1], dtype=np.int8).view(bool)
        out[is_prefix] = np.tile(pattern, rows)
        out[~is_prefix] = data
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), rows, [None, pa.py_buffer(new_offsets), pa.py_buffer(out)]
    )


def _hex_bytes(hex_digests: pl.Series) -> np.ndarray:
    """The raw digests (rows x 32) behind 64-character hex strings, decoded in one call."""
    array = hex_digests.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    rows = len(array)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)
    start, stop = offsets[array.offset], offsets[array.offset + rows]
    text = memoryview(array.buffers()[2])[start:stop]
    return np.frombuffer(binascii.a2b_hex(text), dtype=np.uint8).reshape(rows, 32)


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
