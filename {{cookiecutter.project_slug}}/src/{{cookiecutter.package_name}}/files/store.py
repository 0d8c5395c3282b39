"""Files under FILES_DIR, with plain blocking `open()`: call these from worker threads only.

Every function here blocks (open, read, write, fsync, rename, scandir), which is why the
routes that use them are plain `def` and run in worker threads, or, for the upload, make one
thread hop per call. Called on the loop, they would stall it; blockbuster catches that in
the tests.

Names are checked twice: by the route's pattern, before anything runs, and here, where the
path must resolve to exactly FILES_DIR/name. So a symlink someone placed in FILES_DIR is
refused, not followed out of it.
"""

import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fastapi import status
from pydantic import BaseModel

from ..errors import ServiceError, UploadTooLarge

# Letters, digits, dot, dash, underscore; no leading dot (hidden files, "." and ".."), no
# separator, no NUL, at most 128 characters.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
NAME_MAX_LENGTH = 128
_NAME = re.compile(NAME_PATTERN)
# Uploads in progress: hidden names the pattern can never ask for, and the listing skips.
TEMPORARY_PREFIX = ".upload-"
# Starlette's FileResponse reads 64 KiB at a time too: few thread hops, little memory.
CHUNK_SIZE = 64 * 1024
# Both are "no such file" to a client. Caught by name, not as `except (A, B):`, which ruff
# rewrites for Python 3.14 into a form 3.11-3.13 cannot parse (pyproject.toml, [tool.ruff]).
NO_SUCH_FILE = (FileNotFoundError, IsADirectoryError)


class UnsafeFileName(ServiceError):
    """A name that passed the pattern but resolves outside FILES_DIR (a symlink)."""

    status_code = status.HTTP_400_BAD_REQUEST


class FileMissing(ServiceError):
    status_code = status.HTTP_404_NOT_FOUND


class NotAFile(ServiceError):
    """The name belongs to something other than a regular file (a directory)."""

    status_code = status.HTTP_409_CONFLICT


class InsufficientStorage(ServiceError):
    status_code = status.HTTP_507_INSUFFICIENT_STORAGE


class StoredFile(BaseModel):
    name: str
    size: int


def _no_follow(path: str, flags: int) -> int:
    # open()'s opener: a symlink swapped in after the check below fails with ELOOP.
    return os.open(path, flags | os.O_NOFOLLOW)


def read_chunks(file: BinaryIO) -> Iterator[bytes]:
    """The open file, CHUNK_SIZE at a time; closes it at the end or when abandoned."""
    with file:
        while chunk := file.read(CHUNK_SIZE):
            yield chunk


@dataclass(frozen=True, slots=True)
class FileStore:
    directory: Path
    max_bytes: int
    # Uploads are refused (507) rather than let the volume's free space fall below this.
    min_free_bytes: int = 0

    def path_of(self, name: str) -> Path:
        if not _NAME.fullmatch(name):
            raise UnsafeFileName(f"{name!r} is not a valid file name")
        root = self.directory.resolve()
        path = root / name
        if path.resolve() != path:
            raise UnsafeFileName(f"{name!r} is a link; only plain files are served")
        return path

    def list_files(self) -> list[StoredFile]:
        root = self.directory.resolve()
        if not root.is_dir():
            return []
        with os.scandir(root) as entries:
            files = [
                StoredFile(name=entry.name, size=entry.stat(follow_symlinks=False).st_size)
                for entry in entries
                if _NAME.fullmatch(entry.name) and entry.is_file(follow_symlinks=False)
            ]
        return sorted(files, key=lambda file: file.name)

    def open_for_reading(self, name: str) -> tuple[BinaryIO, int]:
        """Open for reading; the caller streams from the open file, so a PUT or DELETE
        meanwhile cannot change what it sends."""
        path = self.path_of(name)
        try:
            file = open(path, "rb", opener=_no_follow)  # noqa: SIM115 (read_chunks closes it)
        except NO_SUCH_FILE:
            raise FileMissing(f"no file named {name!r}") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafeFileName(f"{name!r} is a link; only plain files are served") from None
            raise
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            file.close()
            raise FileMissing(f"no file named {name!r}")
        return file, info.st_size

    def start_upload(self, name: str, declared_size: int | None = None) -> "Upload":
        """A temporary file next to `name`, to be filled by `Upload.write` and renamed into
        place by `Upload.finish`. Refused (507) at once when a declared size would cut into
        the free-space margin."""
        path = self.path_of(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        if declared_size is not None:
            self.check_room(os.statvfs(path.parent), declared_size)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX)
        # Upload.finish or Upload.discard closes it.
        return Upload(self, path, Path(temporary), open(descriptor, "wb"))

    def check_room(self, volume: os.statvfs_result, incoming: int) -> None:
        # Refuse while the volume still has room: a full disk fails every writer on it, and
        # on Kubernetes a full emptyDir gets the pod evicted.
        free = volume.f_bavail * volume.f_frsize
        if free - incoming < self.min_free_bytes:
            raise InsufficientStorage(
                "not enough free space for this upload (FILES_MIN_FREE_BYTES stay free)"
            )

    def delete(self, name: str) -> None:
        path = self.path_of(name)
        try:
            path.unlink()
        except NO_SUCH_FILE:
            raise FileMissing(f"no file named {name!r}") from None


@dataclass(slots=True)
class Upload:
    """One upload in progress: blocking calls, for a worker thread each. Over the size
    limit, short of space, or on any failure, `discard` leaves the target as it was."""

    store: FileStore
    path: Path
    temporary: Path
    file: BinaryIO
    size: int = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.store.max_bytes:
            raise UploadTooLarge(f"uploads are limited to {self.store.max_bytes} bytes")
        self.store.check_room(os.fstatvfs(self.file.fileno()), len(chunk))
        try:
            self.file.write(chunk)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise InsufficientStorage("no space left for this upload") from None
            raise

    def finish(self) -> tuple[StoredFile, bool]:
        """Rename the complete file into place; returns it and whether it is new."""
        try:
            self.file.flush()
            # On disk before the rename: a crash leaves the old file or the new one, never
            # a torn one.
            os.fsync(self.file.fileno())
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise InsufficientStorage("no space left for this upload") from None
            raise
        self.file.close()
        if self.path.is_dir():
            raise NotAFile(f"{self.path.name!r} is a directory")
        created = not self.path.exists()
        os.replace(self.temporary, self.path)
        return StoredFile(name=self.path.name, size=self.size), created

    def discard(self) -> None:
        self.file.close()
        self.temporary.unlink(missing_ok=True)
