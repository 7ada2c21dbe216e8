"""HEPData submission of a run: tables of every window and the likelihoods (pyhf workspaces).

:func:`build_submission` turns a run directory into a HEPData submission archive with
`hepdata_lib <https://github.com/HEPData/hepdata_lib>`_ (tables in :mod:`dhstat.publish.tables`):
per search window the counts and significances, the window geometry (ellipse and C_eta cut), the
observed and expected upper limits on sigma (Bayesian and CLs, with the expected bands) and on
eps^2 alpha_D, the limits interpolated over the (M_A', M_h') plane and the cutflow; each limit
with its qualifiers (credibility level, prior or method, sqrt(s), luminosity) and the windows'
flags (no sensitivity, prior-dominated). The per-window pyhf workspaces are additional resources
of type ``HistFactory``. The archive is validated with ``hepdata_validator`` and refused if it is
larger than HEPData's upload limit (50 MB).

Example:
    >>> import tempfile, pathlib
    >>> empty = pathlib.Path(tempfile.mkdtemp())
    >>> from dhstat import config
    >>> from dhstat.report import ReportSettings
    >>> build_submission(empty, ReportSettings.from_config(config.load()), empty / "s.tar.gz")
    Traceback (most recent call last):
    ...
    dhstat.errors.InputError: ...: (run directory): expected the files of a finished run ...
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dhstat import __version__, rundir, workspace
from dhstat.errors import InputError
from dhstat.jsonio import atomic_path
from dhstat.publish.tables import quiet_deprecations, submission_tables
from dhstat.report import ReportSettings, collect

__all__ = ["build_submission", "validate_archive"]

log = logging.getLogger(__name__)

_PAPER = "Belle II, Phys. Rev. Lett. 130, 071804 (2023), arXiv:2207.00509"


def __dir__() -> list[str]:
    return __all__


def _likelihood_archives(directory: Path, folder: Path) -> list[tuple[Path, str]]:
    """The likelihoods as two archives: pyhf patchset (HEPData convention) and one file per window."""
    workspace_set = workspace.read_set(directory)
    background_only, patchset = workspace.to_patchset(
        workspace_set, description="dhstat search windows: one patch per window"
    )
    readme = (
        "pyhf likelihoods of every search window.\n"
        "BkgOnly.json + patchset.json: apply patch w<id> to get window <id>'s workspace, e.g.\n"
        "  pyhf patchset apply BkgOnly.json patchset.json --name w17 > w17.json\n"
        "  pyhf cls w17.json   (or: dhstat limit w17.json)\n"
    )
    members = {
        "README.txt": readme,
        "BkgOnly.json": json.dumps(background_only, indent=1, sort_keys=True),
        "patchset.json": json.dumps(patchset, indent=1, sort_keys=True),
    }
    patch_archive = folder / "likelihoods_patchset.tar.gz"
    with tarfile.open(patch_archive, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    per_window = workspace.archive(workspace_set, folder / "likelihoods_workspaces.tar.gz")
    patch_text = (
        "pyhf likelihoods of all search windows: background-only workspace and a patchset "
        "with one patch per window (HEPData convention)"
    )
    window_text = (
        "pyhf likelihoods of all search windows: one standalone workspace per window "
        "(w<id>.json) and the index of the windows (index.json)"
    )
    return [(patch_archive, patch_text), (per_window, window_text)]


def validate_archive(path: str | Path) -> list[str]:
    """Validate a submission archive with ``hepdata_validator``; return its messages (empty: valid)."""
    with quiet_deprecations():
        from hepdata_validator.full_submission_validator import FullSubmissionValidator

        validator = FullSubmissionValidator()
        valid = validator.validate(archive=str(path))
    if valid:
        return []
    return [
        f"{name}: {message.message}"
        for name, messages in validator.get_messages().items()
        for message in messages
    ]


def build_submission(
    outdir: str | Path,
    settings: ReportSettings,
    output: str | Path,
    *,
    extra_resources: Sequence[Path] = (),
) -> Path:
    """Write the HEPData submission archive of the run in ``outdir`` to ``output``.

    Args:
        outdir: A run directory (``dhstat run`` or the stage commands).
        settings: The report settings (their ``hepdata_max_mb`` is the size limit).
        output: The archive to write (``.tar.gz``).
        extra_resources: More files to attach as additional resources.

    Returns:
        The archive's path.

    Raises:
        InputError: the run has no window results, or the archive would exceed the size limit.
        RuntimeError: the archive does not pass ``hepdata_validator`` (a dhstat bug).
    """
    with quiet_deprecations():
        from hepdata_lib import Submission

    root = Path(outdir)
    target = Path(output)
    tables = collect(root)
    if not tables.has("ma", "mh") or not (set(tables.columns) - {"id", "ma", "mh"}):
        raise InputError(
            root,
            "(run directory)",
            "the files of a finished run (windows.json, counts.json, results.json, ...)",
        )
    limit_mb = settings.hepdata_max_mb
    submission = Submission()
    submission.comment = (
        f"Sliding-window search for dark Higgsstrahlung produced with dhstat {__version__}, "
        f"modelled on {_PAPER}."
    )
    for table in submission_tables(tables, settings):
        submission.add_table(table)
    with tempfile.TemporaryDirectory(prefix="dhstat-hepdata-") as scratch:
        folder = Path(scratch)
        workspaces = root / rundir.WORKSPACES
        if (root / rundir.WORKSPACE_INDEX).is_file():
            for archive, description in _likelihood_archives(workspaces, folder):
                _check_size(archive, limit_mb, f"the likelihood archive {archive.name}")
                submission.add_additional_resource(
                    description, str(archive), copy_file=True, file_type="HistFactory"
                )
        for extra in extra_resources:
            submission.add_additional_resource(extra.name, str(extra), copy_file=True)
        build = folder / "build"
        build.mkdir()
        with contextlib.chdir(build), quiet_deprecations():
            submission.create_files(str(folder / "files"), validate=False, remove_old=True)
        produced = build / "submission.tar.gz"
        _check_size(produced, limit_mb, "the submission archive")
        messages = validate_archive(produced)
        if messages:
            msg = "HEPData validation failed: " + "; ".join(messages[:5])
            raise RuntimeError(msg)
        with atomic_path(target) as temporary:
            shutil.copyfile(produced, temporary)
    log.info("HEPData submission written to %s", target)
    return target


def _check_size(path: Path, limit_mb: float, what: str) -> None:
    size_mb = path.stat().st_size / 1e6
    if size_mb > limit_mb:
        raise InputError(
            path,
            "(size)",
            f"{what} to be at most {limit_mb:g} MB (HEPData's upload limit is 50 MB); "
            "publish fewer windows or host the workspaces elsewhere and link them",
            got=f"{size_mb:.1f} MB",
        )
