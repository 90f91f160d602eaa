"""Where a writer puts a dataset: a folder, or straight into a new zip file.

Pure module: no Django import. Both outputs take the same calls (``mkdir``, ``write_text``,
``write_bytes``, ``place_image``) with names already checked by
:func:`.files.path_problem`, and both remove everything written when the ``with`` block
fails, so a failed export leaves nothing half-written behind.

A zip is written directly rather than from a finished folder: a YOLO export of the seed
paper's 13,622 images is 27,000 small files, and creating then re-reading each of them cost
more than the zip itself.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from .base import DatasetImage, FormatError, ImageSource
from .files import IMAGE_EXTENSIONS


class OutputFolder:
    """Context manager for a writer's output folder, which must be absent or empty."""

    def __init__(self, out_dir: Path) -> None:
        self.root = Path(out_dir)

    def __enter__(self) -> OutputFolder:
        if self.root.exists():
            if not self.root.is_dir() or self.root.is_symlink():
                raise FormatError([f"{self.root}: output exists and is not a folder"])
            if any(self.root.iterdir()):
                raise FormatError([f"{self.root}: output folder is not empty"])
            self._created = False
        else:
            self.root.mkdir(parents=True)
            self._created = True
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            return
        if self._created:
            shutil.rmtree(self.root, ignore_errors=True)
        else:
            for child in self.root.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)

    def path(self, rel: str) -> Path:
        """``root/rel``, parents created."""
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def mkdir(self, rel: str) -> None:
        (self.root / rel).mkdir(parents=True, exist_ok=True)

    def write_text(self, rel: str, text: str) -> None:
        self.path(rel).write_text(text, encoding="utf-8")

    def write_bytes(self, rel: str, data: bytes) -> None:
        self.path(rel).write_bytes(data)

    def place_image(
        self, rel: str, image: DatasetImage, image_source: ImageSource, link: bool
    ) -> None:
        """Copy (or hard-link, when ``link``) the image ``image_source`` gives to ``rel``."""
        target = self.path(rel)
        source = image_source(image)
        if isinstance(source, bytes | bytearray | memoryview):
            target.write_bytes(bytes(source))
            return
        source = Path(source)
        if link:
            try:
                os.link(source, target)
                return
            except OSError:  # another filesystem, or links not allowed: copy instead
                pass
        shutil.copyfile(source, target)


class ZipOutput:
    """Context manager writing a dataset into the new zip file ``zip_path`` (never an existing
    one). Images are stored (they do not compress), text is deflated; a failure removes the
    partial zip. ``root`` is None: a zip has no folder a data.yaml could point to."""

    root = None

    def __init__(self, zip_path: Path) -> None:
        self.zip_path = Path(zip_path)
        self._names: set[str] = set()
        self._folders: set[str] = set()

    def __enter__(self) -> ZipOutput:
        try:
            self._zip = zipfile.ZipFile(self.zip_path, "x", allowZip64=True)
        except FileExistsError:
            raise FormatError([f"{self.zip_path}: output file already exists"]) from None
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._add_empty_folders()
            self._zip.close()
        except BaseException:
            self.zip_path.unlink(missing_ok=True)
            raise
        finally:
            if exc_type is not None:
                self.zip_path.unlink(missing_ok=True)

    def _entry(self, rel: str) -> str:
        # A second entry of one name would be read back as either, depending on the tool.
        if rel in self._names:
            raise FormatError([f"{rel}: written twice"])
        self._names.add(rel)
        return rel

    def mkdir(self, rel: str) -> None:
        self._folders.add(rel.rstrip("/"))

    def _add_empty_folders(self) -> None:
        # Only a folder nothing was written into gets an entry of its own (a YOLO
        # ``images/val`` with no image), as a zip tool would add it.
        full = {str(parent) for name in self._names for parent in PurePosixPath(name).parents}
        for folder in sorted(self._folders - full):
            self._zip.mkdir(folder + "/")

    def write_text(self, rel: str, text: str) -> None:
        self.write_bytes(rel, text.encode("utf-8"))

    def write_bytes(self, rel: str, data: bytes) -> None:
        self._zip.writestr(self._entry(rel), data, compress_type=self._method(rel))

    def place_image(
        self, rel: str, image: DatasetImage, image_source: ImageSource, link: bool
    ) -> None:
        """Store the image ``image_source`` gives as ``rel`` (``link`` means nothing here)."""
        source = image_source(image)
        if isinstance(source, bytes | bytearray | memoryview):
            self.write_bytes(rel, bytes(source))
            return
        self._zip.write(Path(source), self._entry(rel), compress_type=self._method(rel))

    @staticmethod
    def _method(rel: str) -> int:
        ext = PurePosixPath(rel).suffix.lower().lstrip(".")
        return zipfile.ZIP_STORED if ext in IMAGE_EXTENSIONS else zipfile.ZIP_DEFLATED


Output = OutputFolder | ZipOutput


def open_output(target: Path | ZipOutput) -> Output:
    """The output a writer's ``out`` argument names: a folder path, or a :class:`ZipOutput`."""
    return target if isinstance(target, ZipOutput) else OutputFolder(target)
