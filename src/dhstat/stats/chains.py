"""Convergence diagnostics and Monte Carlo errors of Markov chains (NumPy only).

The formulae of Vehtari, Gelman, Simpson, Carpenter and Buerkner, "Rank-normalization, folding,
and localization: an improved R-hat for assessing convergence of MCMC" (Bayesian Analysis 16,
2021), written out here so that the numbers do not depend on a sampler library's version:

* :func:`effective_sample_size`: Geyer's initial monotone sequence estimator over several chains,
  as in Stan's reference manual (the autocorrelation combines the within-chain autocovariances
  with the between-chain variance);
* :func:`split_rhat`: the potential scale reduction factor of the chains split in halves;
* :func:`rhat`: the larger of the split R-hat of the rank-normalised draws and of their folded
  (``|x - median|``) ranks, which also sees chains that differ in scale only;
* :func:`ess_bulk`: the effective sample size of the rank-normalised split chains;
* :func:`quantile_with_error`: a quantile of the pooled draws and its Monte Carlo standard error,
  from the effective sample size of the indicator ``x <= q`` and the Beta distribution of the
  fraction of draws below the true quantile (no density estimate needed).

Arrays hold one row per chain, ``(chains, draws)``.

Example:
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=(4, 1000))
    >>> bool(abs(rhat(x) - 1) < 0.01), bool(3000 < ess_bulk(x) < 5000)
    (True, True)
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

__all__ = [
    "effective_sample_size",
    "ess_bulk",
    "quantile_with_error",
    "rank_normalise",
    "rhat",
    "split_chains",
    "split_rhat",
]

Array = NDArray[np.float64]

#: The probabilities of -1 and +1 standard deviations of a normal distribution.
_ONE_SIGMA = (float(special.ndtr(-1.0)), float(special.ndtr(1.0)))


def __dir__() -> list[str]:
    return __all__


def _chains(x: ArrayLike) -> Array:
    array = np.asarray(x, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] < 4:
        message = f"expected draws of shape (chains, draws >= 4), got {array.shape}"
        raise ValueError(message)
    return array


def split_chains(x: ArrayLike) -> Array:
    """Each chain cut into its first and second half (an odd middle draw is dropped).

    Example:
        >>> split_chains(np.arange(10.0).reshape(2, 5)).tolist()
        [[0.0, 1.0], [5.0, 6.0], [3.0, 4.0], [8.0, 9.0]]
    """
    array = _chains(x)
    half = array.shape[1] // 2
    return np.concatenate([array[:, :half], array[:, -half:]], axis=0)


def _autocovariance(x: Array) -> Array:
    """Biased autocovariance of each row at lags 0 ... draws - 1 (FFT, zero-padded)."""
    n = x.shape[1]
    size = 2 * int(2 ** math.ceil(math.log2(n)))
    centred = x - x.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    out: Array = np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=1)[:, :n] / n
    return out


def effective_sample_size(x: ArrayLike) -> float:
    """Effective sample size of the pooled chains (Geyer's initial monotone sequence, as Stan).

    ``nan`` when the draws do not vary.

    Example:
        >>> rng = np.random.default_rng(2)
        >>> round(effective_sample_size(rng.normal(size=(2, 5000))), -3)
        10000.0
    """
    array = _chains(x)
    chains, n = array.shape
    gamma = _autocovariance(array)
    within = float(gamma[:, 0].mean() * n / (n - 1))
    between_part = float(array.mean(axis=1).var(ddof=1)) if chains > 1 else 0.0
    variance = within * (n - 1) / n + between_part
    if not variance > 0:
        return math.nan
    rho = 1.0 - (within - gamma.mean(axis=0)) / variance
    rho[0] = 1.0
    pairs = rho[:-1:2] + rho[1::2]
    monotone = np.concatenate([pairs[:1], np.minimum.accumulate(np.clip(pairs[1:], 0, None))])
    tau = -1.0 + 2.0 * float(monotone.sum())
    return float(chains * n / tau)


def split_rhat(x: ArrayLike) -> float:
    """Split R-hat (Gelman-Rubin over the half chains) of the draws as they are.

    Example:
        >>> x = np.stack([np.linspace(0, 1, 100), np.linspace(5, 6, 100)])
        >>> split_rhat(x) > 2
        True
    """
    halves = split_chains(x)
    n = halves.shape[1]
    within = float(halves.var(axis=1, ddof=1).mean())
    between = n * float(halves.mean(axis=1).var(ddof=1))
    if not within > 0:
        return math.nan
    pooled = (n - 1) / n * within + between / n
    return math.sqrt(pooled / within)


def rank_normalise(x: ArrayLike) -> Array:
    """Normal scores of the ranks of all draws (average ranks for ties), same shape.

    Example:
        >>> rank_normalise(np.array([[3.0, 1.0, 2.0, 2.0]])).round(3).tolist()
        [[1.049, -1.049, 0.0, 0.0]]
    """
    array = np.asarray(x, dtype=np.float64)
    ranks = stats.rankdata(array, method="average").reshape(array.shape)
    out: Array = special.ndtri((ranks - 0.375) / (array.size + 0.25))
    return out


def rhat(x: ArrayLike) -> float:
    """Rank-normalised split R-hat: the larger of the bulk and of the folded (tail) one.

    Example:
        >>> rng = np.random.default_rng(3)
        >>> x = rng.normal(size=(4, 500))
        >>> x[0] *= 3  # one chain of another scale: the folded ranks see it
        >>> rhat(x) > 1.05
        True
    """
    array = _chains(x)
    bulk = split_rhat(rank_normalise(array))
    folded = split_rhat(rank_normalise(np.abs(array - np.median(array))))
    return max(bulk, folded)


def ess_bulk(x: ArrayLike) -> float:
    """Bulk effective sample size: that of the rank-normalised split chains.

    Example:
        >>> rng = np.random.default_rng(4)
        >>> bool(1500 < ess_bulk(rng.normal(size=(2, 1000))) < 2500)
        True
    """
    return effective_sample_size(rank_normalise(split_chains(x)))


def quantile_with_error(x: ArrayLike, probability: float) -> tuple[float, float, float]:
    """The ``probability`` quantile of the pooled draws, its Monte Carlo error and the ESS behind it.

    The effective sample size ``m`` is that of the indicator ``x <= q`` over the split chains. The
    fraction of draws below the true quantile then has about the Beta(m p + 1, m (1 - p) + 1)
    spread; the draws at its 16 % and 84 % points bound a +-1 standard deviation interval, whose
    half-width is the error. Returns ``(quantile, error, m)``; the error is ``inf`` when ``m`` cannot
    be estimated (the indicator does not vary within the chains).

    Example:
        >>> rng = np.random.default_rng(5)
        >>> q, error, m = quantile_with_error(rng.normal(size=(4, 2500)), 0.9)
        >>> iid = (0.9 * 0.1 / 10000) ** 0.5 / 0.1755  # sqrt(p (1 - p) / n) / density at q
        >>> bool(abs(q - 1.2816) < 4 * iid), bool(0.7 < error / iid < 1.3)
        (True, True)
    """
    array = _chains(x)
    q = float(np.quantile(array, probability))
    indicator = (array <= q).astype(np.float64)
    m = effective_sample_size(split_chains(indicator))
    if not (math.isfinite(m) and m > 0):
        return q, math.inf, math.nan
    low, high = stats.beta.ppf(_ONE_SIGMA, m * probability + 1, m * (1 - probability) + 1)
    ordered = np.sort(array.ravel())
    size = ordered.size
    lower = ordered[int(np.floor(max(low * size, 0.0)))]
    upper = ordered[int(np.ceil(min(high * size, size - 1.0)))]
    return q, float(upper - lower) / 2.0, m
