"""How each partner writes a name: case, accents, hyphens and apostrophes, typos.

A person's name is a vocabulary index; a *style* says how a partner's software writes it. Every
name of the vocabulary is written once in every style (a few thousand strings), and a delivery
line picks its spelling by index (``style × vocabulary size + name``), so millions of lines get
their names with one vectorised gather. Typos are rare and applied one string at a time,
deterministically from a per-line number drawn earlier.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np
import polars as pl

from synth.names import load_vocabulary

UPPER_ACCENTS, UPPER_PLAIN, UPPER_SPACED, UPPER_JOINED, MIXED_ACCENTS, MIXED_PLAIN = range(6)
STYLES = 6
KEYBOARD_NEIGHBOURS = {
    "a": "zqs",
    "e": "zrd",
    "i": "uok",
    "o": "ipl",
    "u": "yij",
    "n": "bhm",
    "r": "etf",
    "t": "ryg",
    "s": "qdz",
    "l": "kmo",
    "m": "nlk",
    "c": "xvd",
    "d": "sfe",
}


def plain(text: str) -> str:
    """Accents removed (É → E, Ç → C), for the partners whose systems store bare letters."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def styled(text: str, style: int) -> str:
    if style == UPPER_ACCENTS:
        return text.upper()
    if style == UPPER_PLAIN:
        return plain(text).upper()
    if style == UPPER_SPACED:
        return re.sub(r"\s+", " ", re.sub(r"['\-]", " ", plain(text).upper())).strip()
    if style == UPPER_JOINED:
        return re.sub(r"['\-\s]", "", plain(text).upper())
    if style == MIXED_ACCENTS:
        return text
    return plain(text)


@lru_cache(maxsize=2)
def variants(kind: str) -> pl.Series:
    """Every name of the vocabulary (``surname`` or ``given``) in every style, style-major."""
    vocabulary = load_vocabulary()
    words = vocabulary.surnames if kind == "surname" else vocabulary.given
    return pl.Series(kind, [styled(w, s) for s in range(STYLES) for w in words], pl.String)


def spell(kind: str, index: np.ndarray, style: np.ndarray) -> pl.Series:
    """Names at ``index`` written in ``style`` (index −1 gives null)."""
    table = variants(kind)
    size = len(table) // STYLES
    index = np.asarray(index, np.int64)
    position = np.where(index >= 0, np.asarray(style, np.int64) * size + index, 0)
    out = table.gather(pl.Series(position, dtype=pl.Int64))
    return out.scatter(np.flatnonzero(index < 0), None) if (index < 0).any() else out


def with_typo(text: str, draw: int) -> str:
    """One slip of the keyboard, chosen by ``draw``: substitution by a neighbouring key,
    a missing letter, a doubled letter or two letters swapped. Short names are left alone."""
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    if len(letters) < 4:
        return text
    i = letters[1 + (draw >> 2) % (len(letters) - 2)]
    operation = draw % 4
    if operation == 0:
        lower = plain(text[i]).lower()
        neighbours = KEYBOARD_NEIGHBOURS.get(lower, "eai")
        new = neighbours[(draw >> 8) % len(neighbours)]
        if new == lower:
            new = "e" if lower != "e" else "a"
        return text[:i] + (new.upper() if text[i].isupper() else new) + text[i + 1 :]
    if operation == 1:
        return text[:i] + text[i + 1 :]
    if operation == 2:
        return text[:i] + text[i] + text[i:]
    j = i + 1 if i + 1 < len(text) and text[i + 1].isalpha() else i - 1
    first, second = sorted((i, j))
    if text[first] == text[second]:
        return text[:i] + text[i + 1 :]
    return text[:first] + text[second] + text[first] + text[second + 1 :]


def apply_typos(series: pl.Series, draws: np.ndarray) -> pl.Series:
    """Typos on the lines whose draw is not 0."""
    rows = np.flatnonzero(np.asarray(draws) != 0)
    if not len(rows):
        return series
    values = series.gather(rows).to_list()
    changed = [
        with_typo(v, int(d)) if v else v
        for v, d in zip(values, np.asarray(draws)[rows], strict=True)
    ]
    return series.scatter(rows, pl.Series(changed, dtype=pl.String))
