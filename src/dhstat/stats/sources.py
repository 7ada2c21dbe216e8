"""Where a workspace comes from: a JSON file, a background-only workspace plus a patchset, an archive.

Theorists find published likelihoods in three forms, and every one of them reads here into one
checked workspace document (:class:`WorkspaceSource`), the input of ``dhstat limit`` and
``dhstat significance`` and of the Python API:

* a pyhf workspace JSON file;
* a background-only workspace plus a pyhf patchset and the name of one patch (the form HEPData
  publishes): the patch is applied as pyhf applies it (:class:`pyhf.patchset.PatchSet`, which
  first verifies the patchset's digest of the background-only workspace, then a JSON Patch);
* the same two files inside a ``.tar.gz`` archive as downloaded from HEPData, read in memory
  (never extracted to disk). Members are named by their path in the archive or, when that is
  unique, by their file name; without names, the archive's single ``*BkgOnly*.json`` /
  ``*patchset*.json`` pair is used (or its single JSON file, when there is no patchset).

The result is checked as pyhf checks a workspace (its schema) and beyond
(:func:`dhstat.stats.generic.check_spec`: one POI that is a modifier of the model, observations
of every channel as long as the channel, finite numbers). Every problem is one
:class:`~dhstat.errors.InputError` naming the file (and the archive member) at fault.

Example:
    >>> import json, tempfile, pathlib
    >>> from dhstat.stats.model import window_spec
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ws.json"
    >>> _ = path.write_text(json.dumps(window_spec(n=2, signal=1.0, backgrounds={"b": 0.5})))
    >>> read_workspace(path).spec["observations"][0]["data"]
    [2]
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from dhstat.errors import InputError
from dhstat.stats.generic import check_spec, quiet_pyhf

__all__ = ["WorkspaceSource", "apply_patch", "is_archive", "patch_names", "read_workspace"]

#: Largest archive member read into memory (a published likelihood is a few MB to a few 100 MB).
MAX_MEMBER_BYTES = 2_000_000_000
_SHOWN = 12


def __dir__() -> list[str]:
    return __all__


@dataclass(frozen=True, slots=True)
class WorkspaceSource:
    """A checked workspace document and where it came from.

    Attributes:
        spec: The workspace document (the patch applied, if any).
        source: For messages and results: the file, ``archive.tar.gz:member`` for an archive
            member, and ``+patchset#PATCH`` when a patch was applied.
        patch: The name of the applied patch, or ``None``.
    """

    spec: dict[str, Any]
    source: str
    patch: str | None = None


def is_archive(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a tar archive (``.tar``, ``.tar.gz``, ``.tgz``, ...) by its name.

    Example:
        >>> is_archive("likelihoods.tar.gz"), is_archive("BkgOnly.json")
        (True, False)
    """
    name = Path(path).name.lower()
    return name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz"))


def _decode(data: bytes, source: str) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = data[error.start : min(error.end, error.start + 4)]
        raise InputError(source, f"byte {error.start}", "UTF-8 text", got=bad) from None
    try:
        return json.loads(text)  # NaN and Infinity pass here: check_spec names where they are
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise InputError(source, where, f"valid JSON ({error.msg})") from None
    except RecursionError:
        raise InputError(source, "(top level)", "JSON nested less deeply") from None
    except ValueError as error:  # an integer with more digits than Python converts
        raise InputError(source, "(number)", str(error).splitlines()[0][:200]) from None


def _read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "(file)", f"an existing {what}") from None
    except IsADirectoryError:
        raise InputError(path, "(file)", f"a {what}, not a folder") from None
    except OSError as error:
        raise InputError(path, "(file)", f"a readable {what} ({error.strerror})") from None


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f", ... ({len(names)} in all)" if len(names) > _SHOWN else "")


def patch_names(patchset: Any) -> list[str]:
    """The names of the patches of a patchset document, in its order.

    Example:
        >>> patch_names({"patches": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]})
        ['a', 'b']
    """
    patches = patchset.get("patches") if isinstance(patchset, dict) else None
    if not isinstance(patches, list):
        return []
    return [
        str(p["metadata"]["name"])
        for p in patches
        if isinstance(p, dict) and isinstance(p.get("metadata"), dict) and "name" in p["metadata"]
    ]


def apply_patch(
    background_only: dict[str, Any], patchset: dict[str, Any], name: str, *, source: str
) -> dict[str, Any]:
    """Apply patch ``name`` of a pyhf patchset to a background-only workspace, as pyhf does.

    The patchset is validated against pyhf's schema and its digest checked against the
    background-only workspace (:meth:`pyhf.patchset.PatchSet.apply`).

    Raises:
        InputError: an invalid patchset, a digest that does not match, or no patch of that name
            (the message lists the available names).
    """
    import pyhf  # local import: start-up time

    with quiet_pyhf():
        try:
            patches = pyhf.PatchSet(patchset)
        except Exception as error:  # noqa: BLE001 - pyhf raises several types for bad patchsets
            message = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
            raise InputError(source, "(patchset)", f"a valid pyhf patchset ({message})") from None
        names = patch_names(patchset)
        if name not in names:
            expected = f"the name of a patch of the patchset, one of: {_listing(names)}"
            raise InputError(source, "--patch", expected, got=name)
        try:
            patches.verify(background_only)
        except pyhf.exceptions.PatchSetVerificationError:
            raise InputError(
                source,
                "metadata.digests",
                "a patchset made for this background-only workspace (its digest differs)",
            ) from None
        try:
            patched = patches[name].apply(background_only)
        except Exception as error:  # noqa: BLE001 - jsonpatch raises several types
            message = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
            raise InputError(
                source, f"patch {name!r}", f"a patch that applies ({message})"
            ) from None
    result: dict[str, Any] = patched
    return result


class _Archive:
    """The regular-file members of a tar archive, read into memory on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        data = _read_file(path, "archive")
        try:
            self._tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")  # noqa: SIM115 - in memory
            self.members = {m.name: m for m in self._tar.getmembers() if m.isfile()}
        except (tarfile.TarError, EOFError, OSError) as error:
            raise InputError(path, "(archive)", f"a readable tar archive ({error})") from None

    def find(self, name: str, what: str) -> str:
        """The member called ``name`` (its path in the archive, or its unique file name)."""
        if name in self.members:
            return name
        stripped = name.lstrip("./")
        matches = [m for m in self.members if m.lstrip("./") == stripped]
        matches = matches or [m for m in self.members if PurePosixPath(m).name == name]
        if len(matches) == 1:
            return matches[0]
        jsons = sorted(m for m in self.members if m.lower().endswith(".json"))
        if matches:
            expected = f"a unique {what} member (several are called {name!r}: {_listing(matches)})"
        else:
            expected = f"a {what} member of the archive; its JSON files: {_listing(jsons)}"
        raise InputError(self.path, f"member {name}", expected)

    def auto(self, key: str) -> list[str]:
        """The JSON members whose file name holds ``key`` (case-insensitive)."""
        return sorted(
            m
            for m in self.members
            if m.lower().endswith(".json") and key in PurePosixPath(m).name.lower()
        )

    def json(self, member: str) -> Any:
        info = self.members[member]
        source = f"{self.path}:{member}"
        if info.size > MAX_MEMBER_BYTES:
            raise InputError(source, "(size)", f"at most {MAX_MEMBER_BYTES} bytes", got=info.size)
        handle = self._tar.extractfile(info)
        if handle is None:
            raise InputError(source, "(member)", "a regular file")
        return _decode(handle.read(), source)


def _archive_pair(
    archive: _Archive, workspace: str | None, patchset: str | None, patch: str | None
) -> tuple[str, str | None]:
    """The workspace member and the patchset member (or None) to read from an archive."""
    jsons = sorted(m for m in archive.members if m.lower().endswith(".json"))
    if workspace is not None:
        ws_member = archive.find(workspace, "workspace")
    else:
        candidates = archive.auto("bkgonly") or (jsons if len(jsons) == 1 else [])
        if len(candidates) != 1:
            expected = (
                "--workspace MEMBER naming the background-only workspace among its JSON files: "
                + _listing(jsons)
            )
            raise InputError(archive.path, "--workspace", expected)
        ws_member = candidates[0]
    if patchset is not None:
        return ws_member, archive.find(patchset, "patchset")
    found = archive.auto("patchset")
    folder = PurePosixPath(ws_member).parent
    beside = [m for m in found if PurePosixPath(m).parent == folder]
    found = beside if len(found) > 1 else found
    if patch is None and not found:
        return ws_member, None
    if len(found) != 1:
        expected = "--patchset MEMBER naming the patchset among its JSON files: " + _listing(jsons)
        raise InputError(archive.path, "--patchset", expected)
    return ws_member, found[0]


def read_workspace(
    path: str | os.PathLike[str],
    *,
    workspace: str | None = None,
    patchset: str | os.PathLike[str] | None = None,
    patch: str | None = None,
) -> WorkspaceSource:
    """Read a workspace from a JSON file, a background-only workspace + patchset, or an archive.

    Args:
        path: A pyhf workspace JSON file (the background-only one when ``patch`` is given), or a
            tar archive (``.tar.gz`` as HEPData serves them).
        workspace: Archives only: the workspace member (default: the single ``*BkgOnly*.json``,
            or the single JSON file).
        patchset: The patchset: a file (JSON input) or a member (archive input; default: the
            single ``*patchset*.json``, preferably beside the workspace).
        patch: The name of the patch to apply (required when there is a patchset).

    Returns:
        The checked workspace document (:func:`dhstat.stats.generic.check_spec`).

    Raises:
        InputError: any problem, in one line naming the file, member or option.
    """
    origin = Path(path)
    if is_archive(origin):
        archive = _Archive(origin)
        named = None if patchset is None else str(patchset)
        ws_member, ps_member = _archive_pair(archive, workspace, named, patch)
        spec = archive.json(ws_member)
        source = f"{origin}:{ws_member}"
        ps_doc = archive.json(ps_member) if ps_member is not None else None
        ps_source = f"{origin}:{ps_member}"
        ps_name = PurePosixPath(ps_member or "").name
    else:
        if workspace is not None:
            raise InputError(origin, "--workspace", "an archive (.tar.gz) for --workspace MEMBER")
        spec = _decode(_read_file(origin, "pyhf workspace file"), str(origin))
        source = str(origin)
        ps_doc = None
        ps_source = str(patchset)
        ps_name = Path(ps_source).name
        if patchset is not None:
            ps_doc = _decode(_read_file(Path(patchset), "pyhf patchset file"), ps_source)
    if ps_doc is None:
        if patch is not None:
            raise InputError(source, "--patch", "a patchset for --patch (--patchset FILE)")
        check_spec(spec, source)
        return WorkspaceSource(spec=spec, source=source)
    if patch is None:
        names = patch_names(ps_doc)
        raise InputError(ps_source, "--patch", f"the name of a patch, one of: {_listing(names)}")
    if not isinstance(spec, dict):
        raise InputError(source, "(top level)", "a pyhf workspace (JSON object)")
    patched = apply_patch(spec, ps_doc, patch, source=ps_source)
    label = f"{source}+{ps_name}#{patch}"
    check_spec(patched, label)
    return WorkspaceSource(spec=patched, source=label, patch=patch)
