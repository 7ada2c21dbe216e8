"""The Python API in pyhf's style: ``(data, model)`` or a workspace in, a typed frozen result out.

``dhstat.upper_limit(data, model)`` takes what ``pyhf.infer`` takes: a :class:`pyhf.Model` with
one POI and its data (the main-model counts followed by the auxiliary data, as
``workspace.data(model)`` gives them; the counts alone are accepted too). The ``*_workspace``
forms take a :class:`pyhf.Workspace`, a workspace document (dict) or a file
(:func:`dhstat.stats.sources.read_workspace`, with ``patchset`` and ``patch`` for HEPData's form).
All of them are re-exported by :mod:`dhstat` itself (imported on first use).

The priors are the model's constraint terms centred on its nominal auxiliary data: data whose
auxiliary part differs from ``model.config.auxdata`` are refused (an :class:`InputError`), not
silently re-centred. The model is rebuilt from its specification with pyhf's default modifier
settings (the settings of ``pyhf.Workspace.model``); a model built with other interpolation codes
is refused.

Example:
    >>> import pyhf
    >>> model = pyhf.simplemodels.uncorrelated_background([5.0], [1.0], [0.1])
    >>> result = upper_limit([3] + model.config.auxdata, model, cl=0.9)
    >>> result.poi, round(result.upper_limit, 3) == round(upper_limit([3], model).upper_limit, 3)
    ('mu', True)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dhstat.errors import InputError
from dhstat.stats import generic_bayes
from dhstat.stats import significance as significance_module
from dhstat.stats.generic import GenericModel, Settings
from dhstat.stats.generic_bayes import UpperLimit
from dhstat.stats.hybrid import HybridSettings
from dhstat.stats.significance import Method, Significance
from dhstat.stats.single_bin import Prior
from dhstat.stats.sources import read_workspace

__all__ = [
    "bayes_factor",
    "significance",
    "significance_workspace",
    "to_workspace",
    "upper_limit",
    "upper_limit_workspace",
]

_DEFAULT_SETTINGS = {"normsys": {"interpcode": "code4"}, "histosys": {"interpcode": "code4p"}}
_SOURCE = "<pyhf model>"


def __dir__() -> list[str]:
    return __all__


def to_workspace(data: Sequence[float] | Any, model: Any) -> dict[str, Any]:
    """The workspace document of a pyhf model and its data (one measurement, the model's POI).

    Raises:
        InputError: not a pyhf model with a POI, data of the wrong length, or auxiliary data
            other than the model's nominal ones.

    Example:
        >>> import pyhf
        >>> model = pyhf.simplemodels.uncorrelated_background([5.0], [1.0], [0.1])
        >>> to_workspace([3], model)["observations"]
        [{'name': 'singlechannel', 'data': [3.0]}]
    """
    config = getattr(model, "config", None)
    if config is None or not hasattr(model, "spec"):
        raise InputError(_SOURCE, "model", "a pyhf.Model", got=type(model).__name__)
    if config.poi_name is None:
        raise InputError(_SOURCE, "model.config.poi_name", "a model with one POI")
    settings = getattr(config, "modifier_settings", _DEFAULT_SETTINGS)
    if settings != _DEFAULT_SETTINGS:
        expected = f"pyhf's default modifier settings {_DEFAULT_SETTINGS}"
        raise InputError(_SOURCE, "model.config.modifier_settings", expected, got=settings)
    values = np.asarray(data, dtype=np.float64).ravel()
    main, aux = config.nmaindata, np.asarray(config.auxdata, dtype=np.float64)
    if values.size not in (main, main + aux.size):
        expected = f"{main} counts, or {main + aux.size} counts + auxiliary data"
        raise InputError(_SOURCE, "data", expected, got=values.size)
    if values.size > main and not np.array_equal(values[main:], aux):
        expected = "auxiliary data equal to model.config.auxdata (the priors' centres)"
        raise InputError(_SOURCE, "data[auxdata]", expected)
    observations, start = [], 0
    for channel in config.channels:
        size = config.channel_nbins[channel]
        counts = [float(x) for x in values[start : start + size]]
        observations.append({"name": channel, "data": counts})
        start += size
    parameters = list(model.spec.get("parameters", []))
    measurement = {
        "name": "measurement",
        "config": {"poi": config.poi_name, "parameters": parameters},
    }
    return {
        "channels": model.spec["channels"],
        "observations": observations,
        "measurements": [measurement],
        "version": "1.0.0",
    }


def _prepare(
    workspace: Any,
    patchset: str | os.PathLike[str] | None,
    patch: str | None,
    member: str | None = None,
) -> GenericModel:
    if isinstance(workspace, GenericModel):
        return workspace
    if isinstance(workspace, str | os.PathLike):
        loaded = read_workspace(workspace, workspace=member, patchset=patchset, patch=patch)
        return GenericModel.from_spec(loaded.spec, source=loaded.source)
    if patchset is not None or patch is not None or member is not None:
        raise InputError(_SOURCE, "patchset", "a workspace file for patchset/patch/member")
    if isinstance(workspace, Mapping):
        return GenericModel.from_spec(dict(workspace), source="<workspace>")
    # a pyhf.Workspace is a dict subclass in pyhf; anything else is refused here
    raise InputError(
        _SOURCE,
        "workspace",
        "a pyhf.Workspace, a workspace dict or a file",
        got=type(workspace).__name__,
    )


def upper_limit(
    data: Sequence[float] | Any,
    model: Any,
    *,
    cl: float = 0.9,
    prior: Prior = "flat",
    sigma_max: float | None = None,
    sigma_min: float = 0.5,
    settings: Settings | None = None,
) -> UpperLimit:
    """Bayesian upper limit on the POI of a pyhf model given its data.

    Args:
        data: Observed counts (+ the model's auxiliary data), as pyhf takes them.
        model: A :class:`pyhf.Model` with one POI.
        cl: Credibility level.
        prior: ``"flat"`` on [0, sigma_max] or ``"log"`` on [sigma_min, sigma_max].
        sigma_max: Upper end of the POI prior (default: the POI's upper bound).
        sigma_min: Lower end of the log prior.
        settings: Numerical settings.
    """
    spec = to_workspace(data, model)
    return upper_limit_workspace(
        spec, cl=cl, prior=prior, sigma_max=sigma_max, sigma_min=sigma_min, settings=settings
    )


def upper_limit_workspace(
    workspace: Any,
    *,
    cl: float = 0.9,
    prior: Prior = "flat",
    sigma_max: float | None = None,
    sigma_min: float = 0.5,
    settings: Settings | None = None,
    patchset: str | os.PathLike[str] | None = None,
    patch: str | None = None,
    member: str | None = None,
) -> UpperLimit:
    """Bayesian upper limit of a workspace: a pyhf.Workspace, a dict, or a file.

    A file is read by :func:`dhstat.stats.sources.read_workspace`: a workspace JSON, a
    background-only workspace with ``patchset`` and ``patch``, or a ``.tar.gz`` archive (``member``
    names the workspace in it; ``patchset`` then names a member too).

    Example:
        >>> from dhstat.stats.model import window_spec
        >>> round(upper_limit_workspace(window_spec(n=0, signal=1.0, backgrounds={"b": 0.0})).upper_limit, 3)
        2.303
    """
    model = _prepare(workspace, patchset, patch, member)
    return generic_bayes.upper_limit(
        model, cl=cl, prior=prior, sigma_max=sigma_max, sigma_min=sigma_min, settings=settings
    )


def bayes_factor(
    data: Sequence[float] | Any,
    model: Any,
    *,
    sigma_max: float | None = None,
    settings: Settings | None = None,
) -> tuple[float, float]:
    """``(B10, numerical uncertainty)`` of a pyhf model given its data (flat POI prior).

    Example:
        >>> import pyhf
        >>> model = pyhf.simplemodels.uncorrelated_background([1.0], [1.0], [0.01])
        >>> bf, err = bayes_factor([0], model, sigma_max=10.0)
        >>> 0 < bf < 1
        True
    """
    model_ = GenericModel.from_spec(to_workspace(data, model), source=_SOURCE)
    return generic_bayes.bayes_factor(model_, sigma_max=sigma_max, settings=settings)


def significance(
    data: Sequence[float] | Any,
    model: Any,
    *,
    sigma_max: float | None = None,
    method: Method = "hybrid",
    settings: Settings | None = None,
    toys: HybridSettings | None = None,
) -> Significance:
    """Local p-value, Z and Bayes factor of a pyhf model given its data.

    See :func:`dhstat.stats.significance.significance` (hybrid: exact for one bin, toys
    otherwise; or pyhf's asymptotic q0).
    """
    return significance_workspace(
        to_workspace(data, model), sigma_max=sigma_max, method=method, settings=settings, toys=toys
    )


def significance_workspace(
    workspace: Any,
    *,
    sigma_max: float | None = None,
    method: Method = "hybrid",
    settings: Settings | None = None,
    toys: HybridSettings | None = None,
    patchset: str | os.PathLike[str] | None = None,
    patch: str | None = None,
    member: str | None = None,
) -> Significance:
    """Local p-value, Z and Bayes factor of a workspace (pyhf.Workspace, dict, or file).

    The file forms are those of :func:`upper_limit_workspace`.
    """
    model = _prepare(workspace, patchset, patch, member)
    return significance_module.significance(
        model, sigma_max=sigma_max, method=method, settings=settings, toys=toys
    )
