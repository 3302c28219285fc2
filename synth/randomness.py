"""Seeded random streams: same seed and arguments, same bytes.

Each stage of the generator draws from its own stream, keyed by the seed and a stage number
(and a commune where the work is per commune), so that changing how one stage draws never
shifts the draws of another, and the result does not depend on processing order.
"""

from __future__ import annotations

import numpy as np


def stream(seed: int, *keys: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *keys])))


def logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def categorical(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One draw per row of a (rows × categories) matrix of probabilities (rows sum to 1)."""
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative /= cumulative[:, -1:]
    u = rng.random(len(probabilities))[:, None]
    return (u > cumulative).sum(axis=1)


def bernoulli(rng: np.random.Generator, p: np.ndarray | float, size: int) -> np.ndarray:
    return rng.random(size) < p


def sample_without_replacement(rng: np.random.Generator, high: int, size: int) -> np.ndarray:
    """``size`` distinct integers in [0, high), in random order, without a permutation of
    ``high`` items when ``size`` is small (identifier spaces are large)."""
    if size > high:
        raise ValueError("échantillon plus grand que l'espace des identifiants")
    if size * 4 > high:
        return rng.permutation(high)[:size]
    chosen = np.unique(rng.integers(0, high, int(size * 1.2) + 16))
    while len(chosen) < size:
        chosen = np.unique(np.concatenate([chosen, rng.integers(0, high, size)]))
    return rng.permutation(chosen)[:size]
