"""Vectorised sampling helpers: named random streams, grouped categorical draws, pseudonyms.

Why: a million cases must be drawn in seconds without a Python loop per row, and the same seed
must give byte-identical files. Every component draws from its own named stream, so adding a
column to one part of the generator does not reshuffle every other part.
"""

from __future__ import annotations

import zlib

import numpy as np

CROCKFORD = np.frombuffer(b"0123456789ABCDEFGHJKMNPQRSTVWXYZ", dtype=np.uint8)


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent generator for one component, fixed by (seed, name)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode())]))


def draw_grouped(group: np.ndarray, probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For row i, a column index drawn from the distribution probs[group[i]].

    One searchsorted over the row-wise cumulative probabilities, each row offset by its group
    number, so any number of groups costs the same as one. Rows of `probs` need not be
    normalised but must have positive mass wherever a group is used.
    """
    probs = np.asarray(probs, dtype=np.float64)
    n_groups, k = probs.shape
    cum = np.cumsum(probs, axis=1)
    total = cum[:, -1:]
    cum = np.divide(cum, total, out=np.ones_like(cum), where=total > 0)
    flat = (cum + np.arange(n_groups)[:, None]).ravel()
    u = rng.random(group.size) * (1.0 - 1e-9)
    pos = np.searchsorted(flat, group + u, side="right")
    return np.minimum(pos - group * k, k - 1)


def draw(probs: np.ndarray | list[float], n: int, rng: np.random.Generator) -> np.ndarray:
    """n indices drawn from one categorical distribution."""
    return draw_grouped(np.zeros(n, dtype=np.int64), np.asarray(probs, dtype=np.float64)[None, :], rng)


def pseudonyms(index: np.ndarray, prefix: str, salt: int, width: int = 10) -> np.ndarray:
    """Opaque, unique, deterministic identifiers for integer indices.

    A bijection on 5*width bits (odd multiplications and xor-shifts, keyed by `salt`) scrambles
    the index, which is then written in Crockford base 32: distinct indices give distinct ids,
    and nothing in an id reveals the order in which cases were drawn.
    """
    bits = 5 * width
    mask = np.uint64((1 << bits) - 1)
    keys = (
        np.random.default_rng(salt).integers(1, 1 << min(bits, 62), size=4, dtype=np.int64).astype(np.uint64)
    )
    a, b = keys[0] | np.uint64(1), keys[1] | np.uint64(1)
    half = np.uint64(bits // 2)
    x = np.asarray(index, dtype=np.uint64) & mask
    with np.errstate(over="ignore"):
        x = (x * a) & mask
        x ^= keys[2] & mask
        x ^= x >> half
        x = (x * b) & mask
        x ^= keys[3] & mask
        x ^= x >> half
    shifts = np.uint64(5) * np.arange(width - 1, -1, -1, dtype=np.uint64)
    digits = ((x[:, None] >> shifts[None, :]) & np.uint64(31)).astype(np.intp)
    pre = np.frombuffer(prefix.encode(), dtype=np.uint8)
    chars = np.empty((x.size, pre.size + width), dtype=np.uint8)
    chars[:, : pre.size] = pre
    chars[:, pre.size :] = CROCKFORD[digits]
    return chars.view(f"S{pre.size + width}").ravel().astype(f"U{pre.size + width}")


def lognormal_days(median: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Whole days from a lognormal with the given per-row median."""
    return np.rint(median * np.exp(sigma * rng.standard_normal(np.size(median)))).astype(np.int64)
