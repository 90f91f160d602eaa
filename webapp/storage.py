"""The one place that turns stored media into local files and back.

Media may live on a shared filesystem or in S3-compatible object storage (settings
choose); code never builds paths under MEDIA_ROOT by hand. A worker that needs a real
file (OpenCV, Ultralytics) asks for a local copy, which is the file itself when the
storage is a local filesystem.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from .scratch import owner_tag, scratch_sweep, scratch_sweep_area


def scratch_dir(*parts: str) -> Path:
    """A directory under the worker's scratch space (created)."""
    path = Path(settings.SCRATCH_DIR).joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def scratch_workdir(area: str, prefix: str) -> Path:
    """A new folder under ``scratch/<area>`` for one task's temporary files, which the caller
    removes. Its name carries this process's :func:`webapp.scratch.owner_tag`, so a worker
    killed while it holds the folder leaves it to :func:`scratch_sweep_dead`."""
    return Path(tempfile.mkdtemp(prefix=prefix + owner_tag(), dir=scratch_dir(area)))


def scratch_tempdir(area: str = "tmp", prefix: str = "tmp-") -> tempfile.TemporaryDirectory:
    """:class:`tempfile.TemporaryDirectory` under ``scratch/<area>``, named as
    :func:`scratch_workdir` names its folders."""
    return tempfile.TemporaryDirectory(prefix=prefix + owner_tag(), dir=scratch_dir(area))


def scratch_sweep_dead() -> list[Path]:
    """Remove what dead processes of this host left in scratch and in the streamed uploads'
    temp folder (see :mod:`webapp.scratch`)."""
    return scratch_sweep(Path(settings.SCRATCH_DIR)) + scratch_sweep_area(
        Path(settings.FILE_UPLOAD_TEMP_DIR)
    )


@contextmanager
def local_copy(name: str, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a local path holding the stored file ``name``; temp copies are removed after."""
    try:
        yield Path(default_storage.path(name))
        return
    except NotImplementedError:
        pass  # remote storage: download to scratch
    suffix = suffix if suffix is not None else Path(name).suffix
    with tempfile.NamedTemporaryFile(
        dir=scratch_dir("downloads"), prefix="copy-" + owner_tag(), suffix=suffix, delete=False
    ) as tmp:
        with default_storage.open(name, "rb") as src:
            shutil.copyfileobj(src, tmp, length=1024 * 1024)
        tmp_path = Path(tmp.name)
    try:
        yield tmp_path
    finally:
        tmp_path.unlink(missing_ok=True)


class _MovableFile(File):
    """A local file storage may take by moving it (Django's filesystem storage renames a
    file that has a ``temporary_file_path``, as for large uploads; others read it)."""

    def __init__(self, fh, *, name: str, path: Path):
        super().__init__(fh, name=name)
        self._path = path

    def temporary_file_path(self) -> str:
        return str(self._path)


def store_file(*, local_path: Path, name: str, move: bool = False) -> str:
    """Copy a local file into storage under (a free variant of) ``name``; return the name.

    ``move``: the file is the caller's own scratch copy, which storage may take instead of
    copying (a rename on the same filesystem); afterwards ``local_path`` may be gone."""
    with open(local_path, "rb") as fh:
        if move:
            content = _MovableFile(fh, name=Path(name).name, path=Path(local_path))
        else:
            content = File(fh, name=Path(name).name)
        return default_storage.save(name, content)


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def delete_quietly(*names: str) -> None:
    """Remove stored files (missing ones are fine): cleanup on failure paths."""
    for name in names:
        if name:
            try:
                default_storage.delete(name)
            except FileNotFoundError:
                pass


def delete_tree_quietly(prefix: str) -> int:
    """Remove every stored file under the folder ``prefix`` (and the folders, where the
    storage has them); a missing folder is fine. Returns how many files went."""
    prefix = prefix.strip("/")
    if not prefix or ".." in prefix.split("/"):
        raise ValueError(f"refusing to delete the stored folder {prefix!r}")
    try:
        dirs, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    removed = 0
    for name in files:
        delete_quietly(f"{prefix}/{name}")
        removed += 1
    for name in dirs:
        removed += delete_tree_quietly(f"{prefix}/{name}")
    try:
        local = Path(default_storage.path(prefix))
    except NotImplementedError:
        return removed  # object storage has no folders to remove
    shutil.rmtree(local, ignore_errors=True)
    return removed
