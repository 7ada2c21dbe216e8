"""The entry of a look-elsewhere run: from the search and the ``[lee]`` settings to model and header.

``dhstat lee`` and the ``lee`` stage of ``dhstat run`` both start here.
"""

from __future__ import annotations

from collections.abc import Mapping

from dhstat import parallel
from dhstat.lee.cells import CellInputs
from dhstat.lee.header import RunHeader, run_header
from dhstat.lee.inputs import SearchInputs
from dhstat.lee.model import ToyModel, build_toy_model, observed_max
from dhstat.lee.settings import LeeSettings
from dhstat.stats import significance

__all__ = ["prepare"]


def __dir__() -> list[str]:
    return __all__


def prepare(
    search: SearchInputs,
    settings: LeeSettings,
    *,
    n_toys: int,
    seed: int,
    config_digest: str,
    inputs: Mapping[str, str],
    cells: CellInputs | None = None,
    executor: parallel.Executor | None = None,
) -> tuple[ToyModel, RunHeader]:
    """The toy model and the run header of a search, from the ``[lee]`` settings.

    The one place where the settings become :func:`build_toy_model` and :func:`run_header`
    arguments; ``dhstat lee`` and the ``lee`` stage of ``dhstat run`` both use it.

    Args:
        search: The aligned scan results and counts (:func:`search_inputs`).
        settings: The ``[lee]`` settings (:meth:`LeeSettings.from_config`).
        n_toys: Number of toys of the whole run (all shards).
        seed: Master seed.
        config_digest: Digest of the ``[lee]`` table, recorded in the header.
        inputs: SHA-256 of the input files, recorded in the header.
        cells: The cells to draw from (default ``search.cells``; e.g. with an injected signal).
        executor: Builds the p(n) tables in parallel (default: in this process).
    """
    systematics = settings.systematics
    model = build_toy_model(
        search.windows,
        search.cells if cells is None else cells,
        pvalue=significance.hybrid_pvalue,
        relative_windows=search.relative if systematics else None,
        centres=search.centres,
        mc_stat=settings.mc_stat,
        thresholds=settings.gv_thresholds,
        gv_toys=settings.gv_toys,
        batch_size=settings.batch_size,
        table_sigmas=settings.table_sigmas,
        executor=executor,
    )
    z_local, window = observed_max(model, search.n_observed)
    header = run_header(
        model,
        n_toys=n_toys,
        seed=seed,
        z_local=z_local,
        window=window,
        window_ids=list(search.ids),
        systematics=search.systematics if systematics else (),
        z_scan=search.z_scan,
        inputs=dict(inputs),
        config_digest=config_digest,
    )
    return model, header
