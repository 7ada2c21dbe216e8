"""The two-Gaussian ellipse fit of a grid point's signal shape.

Selected no-ISR signal events are fitted (unbinned maximum likelihood, iminuit) with the sum of two
2-D Gaussians sharing the mean ``mu`` and the correlation ``rho``: ``f N(mu, S1) + (1 - f) N(mu,
S2)``, ``S_i = [[sx_i^2, rho sx_i sy_i], [rho sx_i sy_i, sy_i^2]]``. Starting values come from the
sample moments refined by a few EM iterations. A failed fit is retried from a single-Gaussian
start with a stricter strategy; if it still fails, the window comes from the robust sample
covariance and the point keeps ``fit_status = "fallback"`` (never dropped).

The window is the ``n_sigma`` contour ``{d : d^T S^-1 d <= n_sigma^2}``, ``d = (x, y) - mu``, of
one covariance of the fit (``[windows] contour``, see :data:`CONTOURS`):

* ``"tail"`` (default): ``S = S2``, the wider component. The two components differ only in their
  widths, so its ``n_sigma`` ellipse is the outer of the two fitted ``n_sigma`` contours. It is the
  reading of the paper's "two-standard-deviation contours resulting from the fit" that reproduces
  its overlap, containment and windows per event (docs/calibration.md, part B).
* ``"mixture"``: ``S = f S1 + (1 - f) S2``, the covariance of the fitted mixture (exact for a
  common mean); the density of a two-Gaussian sum has no elliptical contours in general.

Example:
    >>> rng = np.random.default_rng(2)
    >>> pts = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.0], [0.0, 1.0]], 500)
    >>> fit, cov = fit_ellipse(pts[:, 0], pts[:, 1])
    >>> fit["fit_status"] in FIT_STATUSES, cov.shape
    (True, (2, 2))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dhstat.windows.geometry import covariance_ellipse

__all__ = ["CONTOURS", "FIT_STATUSES", "fit_ellipse"]

#: Values of ``[windows] contour``: which fitted covariance the window is the contour of.
CONTOURS = ("tail", "mixture")

#: Values of ``Windows.fit_status``: fit converged; converged after a retry; fit failed and the
#: robust sample covariance was used; too few events to fit (resolution model used).
FIT_STATUSES = ("ok", "retried", "fallback", "too_few_events")

FloatArray = NDArray[np.float64]


def __dir__() -> list[str]:
    return __all__


def _nll_terms(
    p: Sequence[float], x: FloatArray, y: FloatArray
) -> tuple[FloatArray, FloatArray, float]:
    mx, my, sx1, sy1, sx2, sy2, rho, _ = p
    dx, dy = x - mx, y - my
    one = 1.0 - rho * rho
    u1, v1 = dx / sx1, dy / sy1
    u2, v2 = dx / sx2, dy / sy2
    q1 = (u1 * u1 - 2 * rho * u1 * v1 + v1 * v1) / one
    q2 = (u2 * u2 - 2 * rho * u2 * v2 + v2 * v2) / one
    return q1, q2, one


def _nll(p: Sequence[float], x: FloatArray, y: FloatArray) -> float:
    sx1, sy1, sx2, sy2, f = p[2], p[3], p[4], p[5], p[7]
    q1, q2, one = _nll_terms(p, x, y)
    norm = 2 * np.pi * math.sqrt(one)
    d1 = f / (norm * sx1 * sy1) * np.exp(-0.5 * q1)
    d2 = (1 - f) / (norm * sx2 * sy2) * np.exp(-0.5 * q2)
    return float(-np.sum(np.log(d1 + d2 + 1e-300)))


def _nll_grad(p: Sequence[float], x: FloatArray, y: FloatArray) -> FloatArray:
    """Analytic gradient of :func:`_nll` (parameters mx, my, sx1, sy1, sx2, sy2, rho, f).

    With ``u = dx / sx``, ``v = dy / sy`` and ``Q = (u^2 - 2 rho u v + v^2) / (1 - rho^2)`` per
    component, ``d log g / d mx = (u - rho v) / ((1 - rho^2) sx)``, ``d log g / d sx =
    (u (u - rho v) / (1 - rho^2) - 1) / sx`` (likewise in y), ``d log g / d rho =
    (rho + u v - rho Q) / (1 - rho^2)``; the mixture weights them by the responsibilities.
    """
    mx, my, sx1, sy1, sx2, sy2, rho, f = p
    dx, dy = x - mx, y - my
    one = 1.0 - rho * rho
    grad = np.zeros(8)
    logs = []
    parts = []
    for sx, sy, w in ((sx1, sy1, f), (sx2, sy2, 1.0 - f)):
        u, v = dx / sx, dy / sy
        q = (u * u - 2 * rho * u * v + v * v) / one
        logs.append(math.log(max(w, 1e-300)) - math.log(sx * sy) - 0.5 * q)
        parts.append((u, v, q, sx, sy))
    top = np.maximum(logs[0], logs[1])
    e1, e2 = np.exp(logs[0] - top), np.exp(logs[1] - top)
    total = e1 + e2
    r1, r2 = e1 / total, e2 / total  # responsibilities of the two components
    for k, (r, (u, v, q, sx, sy)) in enumerate(zip((r1, r2), parts, strict=True)):
        au, av = (u - rho * v) / one, (v - rho * u) / one
        grad[0] -= float(r @ au) / sx
        grad[1] -= float(r @ av) / sy
        grad[2 + 2 * k] -= (float(r @ (u * au)) - float(r.sum())) / sx
        grad[3 + 2 * k] -= (float(r @ (v * av)) - float(r.sum())) / sy
        grad[6] -= float(r @ (rho + u * v - rho * q)) / one
    # d/df: -sum (g1 - g2) / (f g1 + (1 - f) g2) = -sum (r1 / f - r2 / (1 - f))
    grad[7] -= float(r1.sum()) / max(f, 1e-300) - float((1.0 - r1).sum()) / max(1.0 - f, 1e-300)
    return grad


def _start(x: FloatArray, y: FloatArray, n_em: int = 6) -> list[float]:
    """Starting values: moments, then EM for a two-component common-mean Gaussian mixture."""
    mx, my = float(np.median(x)), float(np.median(y))
    vxx, vyy = float(np.var(x)) + 1e-12, float(np.var(y)) + 1e-12
    vxy = float(np.mean((x - x.mean()) * (y - y.mean())))
    comps = [[0.5 * vxx, 0.5 * vxy, 0.5 * vyy], [2.0 * vxx, 2.0 * vxy, 2.0 * vyy]]
    f = 0.6
    for _ in range(n_em):
        dx, dy = x - mx, y - my
        dens = []
        precs = []
        for a, b, c in comps:
            det = max(a * c - b * b, 1e-300)
            pa, pb, pc = c / det, -b / det, a / det
            precs.append((pa, pb, pc))
            q = pa * dx * dx + 2 * pb * dx * dy + pc * dy * dy
            dens.append(np.exp(-0.5 * q) / (2 * np.pi * math.sqrt(det)))
        r1 = f * dens[0]
        tot = r1 + (1 - f) * dens[1] + 1e-300
        g1 = r1 / tot
        g2 = 1.0 - g1
        f = float(np.clip(g1.mean(), 0.05, 0.95))
        # common mean: (sum_n sum_k g_nk P_k)^-1 sum_n sum_k g_nk P_k x_n
        s1, s2 = float(g1.sum()), float(g2.sum())
        (a1, b1, c1), (a2, b2, c2) = precs
        m11, m12, m22 = s1 * a1 + s2 * a2, s1 * b1 + s2 * b2, s1 * c1 + s2 * c2
        gx1, gy1 = float(g1 @ x), float(g1 @ y)
        gx2, gy2 = float(g2 @ x), float(g2 @ y)
        r_x = a1 * gx1 + b1 * gy1 + a2 * gx2 + b2 * gy2
        r_y = b1 * gx1 + c1 * gy1 + b2 * gx2 + c2 * gy2
        det_m = m11 * m22 - m12 * m12
        if det_m > 0:
            mx, my = (m22 * r_x - m12 * r_y) / det_m, (m11 * r_y - m12 * r_x) / det_m
        dx, dy = x - mx, y - my
        comps = []
        for g, total in ((g1, s1), (g2, s2)):
            sg = max(total, 1e-9)
            comps.append(
                [
                    float(g @ (dx * dx)) / sg + 1e-12,
                    float(g @ (dx * dy)) / sg,
                    float(g @ (dy * dy)) / sg + 1e-12,
                ]
            )
    (a1, b1, c1), (a2, b2, c2) = comps
    rho = f * b1 / math.sqrt(a1 * c1) + (1 - f) * b2 / math.sqrt(a2 * c2)
    return [
        mx,
        my,
        math.sqrt(a1),
        math.sqrt(c1),
        math.sqrt(a2),
        math.sqrt(c2),
        float(np.clip(rho, -0.98, 0.98)),
        f,
    ]


@dataclass(frozen=True, slots=True)
class _Fit:
    params: tuple[float, ...]
    status: str
    edm: float


def _truncation_nll(p: Sequence[float], n: int, cut: float) -> float:
    """``n log P(x <= cut)`` of the mixture: the normalisation of a fit to the events ``x <= cut``.

    The x marginal of each 2-D Gaussian component is Gaussian, so ``P(x <= cut) = f Phi((cut -
    mx) / sx1) + (1 - f) Phi((cut - mx) / sx2)``.
    """
    from scipy.special import ndtr  # local import: start-up time

    mx, sx1, sx2, f = p[0], p[2], p[4], p[7]
    norm = f * float(ndtr((cut - mx) / sx1)) + (1 - f) * float(ndtr((cut - mx) / sx2))
    return n * math.log(max(norm, 1e-300))


def _minimise(
    x: FloatArray, y: FloatArray, start: Sequence[float], strategy: int, cut: float | None = None
) -> _Fit | None:
    from iminuit import Minuit  # local import: start-up time

    sx = float(np.std(x)) or 1e-6
    sy = float(np.std(y)) or 1e-6

    def cost(mx: float, my: float, sx1: float, sy1: float, sx2: float, sy2: float,
             rho: float, f: float) -> float:  # fmt: skip
        p = (mx, my, sx1, sy1, sx2, sy2, rho, f)
        if cut is None:
            return _nll(p, x, y)
        return _nll(p, x, y) + _truncation_nll(p, x.size, cut)

    def grad(mx: float, my: float, sx1: float, sy1: float, sx2: float, sy2: float,
             rho: float, f: float) -> FloatArray:  # fmt: skip
        return _nll_grad((mx, my, sx1, sy1, sx2, sy2, rho, f), x, y)

    # the truncated likelihood has no analytic gradient here: iminuit differentiates numerically
    m = Minuit(cost, *start, grad=grad if cut is None else None)
    m.errordef = Minuit.LIKELIHOOD
    m.strategy = strategy
    for name, scale in (("sx1", sx), ("sx2", sx), ("sy1", sy), ("sy2", sy)):
        m.limits[name] = (scale * 1e-4, scale * 1e2)
    m.limits["rho"] = (-0.995, 0.995)
    m.limits["f"] = (0.0, 1.0)
    try:
        m.migrad(ncall=4000)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):  # pragma: no cover
        return None
    if not m.valid:
        return None
    return _Fit(tuple(float(v) for v in m.values), "ok", float(m.fmin.edm) if m.fmin else 0.0)


def _window_cov(p: Sequence[float], contour: str) -> FloatArray:
    """The covariance whose contour is the window: the tail component's or the mixture's."""
    _, _, sx1, sy1, sx2, sy2, rho, f = p
    c2 = np.array([[sx2 * sx2, rho * sx2 * sy2], [rho * sx2 * sy2, sy2 * sy2]])
    if contour == "tail":
        return c2
    c1 = np.array([[sx1 * sx1, rho * sx1 * sy1], [rho * sx1 * sy1, sy1 * sy1]])
    return np.asarray(f * c1 + (1 - f) * c2, dtype=np.float64)


def _robust_fit(u: FloatArray, v: FloatArray) -> _Fit:
    """One Gaussian from the robust sample covariance: scaled MADs, the sample correlation."""
    med = np.array([np.median(u), np.median(v)])
    su = 1.4826 * float(np.median(np.abs(u - med[0]))) or 1.0
    sv = 1.4826 * float(np.median(np.abs(v - med[1]))) or 1.0
    r = float(np.clip(np.corrcoef(u, v)[0, 1], -0.99, 0.99))
    return _Fit((float(med[0]), float(med[1]), su, sv, su, sv, r, 1.0), "fallback", 0.0)


def fit_ellipse(
    x: ArrayLike,
    y: ArrayLike,
    *,
    n_sigma: float = 2.0,
    contour: str = "tail",
    truncate_x: float | None = None,
) -> tuple[dict[str, Any], FloatArray]:
    """Fit two 2-D Gaussians (common mean and correlation) and return the window ellipse.

    Args:
        x: M_recoil^2 of the (no-ISR, selected) signal events [GeV^2].
        y: M_mumu^2 of the same events [GeV^2].
        n_sigma: Window size in standard deviations of the window's covariance.
        contour: Which covariance (:data:`CONTOURS`): ``"tail"``, the wider component's;
            ``"mixture"``, ``f S1 + (1 - f) S2``.
        truncate_x: Fit only the events with ``x <= truncate_x``, with the likelihood normalised
            to that half-plane (a truncated fit: the parameters are those of the whole
            distribution). Used for signal with ISR, whose tail lies at large x (see
            :mod:`~dhstat.windows.signal_mc`). ``None``: every event, as the paper fits.

    Returns:
        ``(fit, cov)``: fit results (``center``, ``axes``, ``angle``, ``sigma_core``,
        ``sigma_tail``, ``rho``, ``core_fraction``, ``fit_status``, ``fit_edm``) and the
        covariance whose ``n_sigma`` contour is the window.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> pts = rng.multivariate_normal([1.0, 4.0], [[0.04, -0.01], [-0.01, 0.01]], 2000)
        >>> fit, cov = fit_ellipse(pts[:, 0], pts[:, 1])
        >>> np.allclose(fit["center"], [1.0, 4.0], atol=0.02), fit["fit_status"]
        (True, 'ok')
    """
    if contour not in CONTOURS:
        msg = f"contour must be one of {CONTOURS}, got {contour!r}"
        raise ValueError(msg)
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if truncate_x is not None and xs.size == ys.size:
        keep = xs <= truncate_x
        xs, ys = xs[keep], ys[keep]
    if xs.size < 10 or xs.size != ys.size:
        msg = f"an ellipse fit needs at least 10 events with x and y, got {xs.size} and {ys.size}"
        raise ValueError(msg)
    # standardise for a well-conditioned fit, transform back afterwards
    ox, oy = float(np.median(xs)), float(np.median(ys))
    kx = float(np.std(xs)) or 1.0
    ky = float(np.std(ys)) or 1.0
    u, v = (xs - ox) / kx, (ys - oy) / ky
    start = _start(u, v)
    cut = None if truncate_x is None else (truncate_x - ox) / kx
    fit = _minimise(u, v, start, strategy=0, cut=cut)
    status = "ok"
    if fit is None:
        status = "retried"
        c = np.corrcoef(u, v)[0, 1] if u.size > 2 else 0.0
        alt = [0.0, 0.0, 0.6, 0.6, 2.0, 2.0, float(np.clip(c, -0.9, 0.9)), 0.7]
        fit = _minimise(u, v, alt, strategy=2, cut=cut)
    if fit is None:
        status = "fallback"
        fit = _robust_fit(u, v)
    p = list(fit.params)
    # label the narrower component (smaller determinant) as the core
    if p[2] * p[3] > p[4] * p[5]:
        p[2], p[3], p[4], p[5], p[7] = p[4], p[5], p[2], p[3], 1 - p[7]
    scale = np.array([kx, ky])
    cov = _window_cov(p, contour) * np.outer(scale, scale)
    axes, angle = covariance_ellipse(cov, n_sigma)
    result = {
        "center": [ox + p[0] * kx, oy + p[1] * ky],
        "axes": axes.tolist(),
        "angle": float(angle),
        "sigma_core": [p[2] * kx, p[3] * ky],
        "sigma_tail": [p[4] * kx, p[5] * ky],
        "rho": p[6],
        "core_fraction": p[7],
        "fit_status": status,
        "fit_edm": fit.edm,
    }
    return result, cov
