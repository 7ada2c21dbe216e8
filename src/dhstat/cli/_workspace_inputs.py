"""The workspace input options shared by ``dhstat limit`` and ``dhstat significance``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from dhstat.stats.sources import WorkspaceSource

__all__ = ["read", "workspace_options"]

F = TypeVar("F", bound=Callable[..., Any])


def __dir__() -> list[str]:
    return __all__


def workspace_options(function: F) -> F:
    """Add ``--patchset``, ``--patch`` and ``--workspace`` to a command."""
    options = [
        click.option(
            "--workspace",
            "member",
            default=None,
            metavar="MEMBER",
            help="Archive input: the workspace member (path in the archive or unique file name).",
        ),
        click.option(
            "--patch",
            default=None,
            metavar="NAME",
            help="The patch of the patchset to apply (an error lists the available names).",
        ),
        click.option(
            "--patchset",
            default=None,
            metavar="FILE|MEMBER",
            help="A pyhf patchset for the background-only WORKSPACE (a member for archives).",
        ),
    ]
    for option in options:
        function = option(function)
    return function


def read(
    workspace: Path, member: str | None, patchset: str | None, patch: str | None
) -> WorkspaceSource:
    """Read the command's workspace (:func:`dhstat.stats.sources.read_workspace`)."""
    from dhstat.stats import sources  # local import: start-up time

    return sources.read_workspace(workspace, workspace=member, patchset=patchset, patch=patch)
