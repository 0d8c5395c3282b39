"""Files under FILES_DIR, with plain blocking `open()`: call these from `def` routes only.

Every function here blocks (open, read, write, fsync, rename, scandir), which is why the
routes that use them are plain `def` and run in worker threads. Called inside `async def`,
they would stall the loop; blockbuster catches that in the tests.

Names are checked twice: by the route's pattern, before anything runs, and here, where the
path must resolve to exactly FILES_DIR/name. So a symlink someone placed in FILES_DIR is
refused, not followed out of it.
"""

import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel

from .errors import FileMissing, InsufficientStorage, NotAFile, UnsafeFileName, UploadTooLarge

# Letters, digits, dot, dash, underscore; no leading dot (hidden files, "." and ".."), no
# separator, no NUL, at most 128 characters.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
NAME_MAX_LENGTH = 128
_NAME = re.compile(NAME_PATTERN)
# Uploads in progress: hidden names the pattern can never ask for, and the listing skips.
TEMPORARY_PREFIX = ".upload-"
# Starlette's FileResponse reads 64 KiB at a time too: few thread hops, little memory.
CHUNK_SIZE = 64 * 1024


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
        except (FileNotFoundError, IsADirectoryError):
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

    def write(self, name: str, chunks: Iterable[bytes]) -> tuple[StoredFile, bool]:
        """Write `chunks` to a temporary file, counting; rename it to `name` once complete.
        Returns the file and whether it is new. Over the limit, or on any failure, the
        temporary file goes and `name` is left as it was."""
        path = self.path_of(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX)
        try:
            size = 0
            with open(descriptor, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise UploadTooLarge(f"uploads are limited to {self.max_bytes} bytes")
                    out.write(chunk)
                out.flush()
                # On disk before the rename: a crash leaves the old file or the new one,
                # never a torn one.
                os.fsync(out.fileno())
            if path.is_dir():
                raise NotAFile(f"{name!r} is a directory")
            created = not path.exists()
            os.replace(temporary, path)
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise InsufficientStorage("no space left for this upload") from None
            raise
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return StoredFile(name=name, size=size), created

    def delete(self, name: str) -> None:
        path = self.path_of(name)
        try:
            path.unlink()
        except (FileNotFoundError, IsADirectoryError):
            raise FileMissing(f"no file named {name!r}") from None
