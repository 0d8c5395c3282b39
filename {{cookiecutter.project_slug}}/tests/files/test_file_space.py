"""Disk space: an upload is refused with 507 while FILES_DIR's volume still keeps
FILES_MIN_FREE_BYTES free, not when the volume is already full (a full volume fails every
writer on it; on Kubernetes a full emptyDir evicts the pod).

The main proof runs on a real, small filesystem: a tmpfs of a few MiB mounted for the test,
which needs root (as in `.ci/run`). Where it cannot be mounted it is skipped with that
reason, and the second test, which needs nothing, still proves the refusal: a margin set
above the free space of an ordinary test directory.
"""

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.settings import Settings

from ..support.harness import running_app

MiB = 1024 * 1024
VOLUME = 8 * MiB
MARGIN = 4 * MiB


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MiB filesystem (tmpfs), mounted for this test only."""
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if mount is None or umount is None:
        pytest.skip("no mount command here")
    mount_point = tmp_path / "volume"
    mount_point.mkdir()
    mounted = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={VOLUME},mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run([umount, str(mount_point)], check=True)


def free_bytes(directory: Path) -> int:
    volume = os.statvfs(directory)
    return volume.f_bavail * volume.f_frsize


def names_in(directory: Path) -> list[str]:
    return sorted(entry.name for entry in directory.iterdir())  # temporary files included


async def test_uploads_are_refused_with_507_while_the_volume_keeps_its_margin(
    small_volume: Path, database_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        database_url=database_url,
        files_dir=small_volume,
        files_min_free_bytes=MARGIN,
    )
    three_mib = bytes(3 * MiB)

    async def undeclared() -> AsyncIterator[bytes]:
        for start in range(0, len(three_mib), 64 * 1024):
            yield three_mib[start : start + 64 * 1024]

    async with running_app(settings) as client:
        # 8 MiB free: 3 MiB leave 5, above the margin.
        first = await client.put("/sync/files/first.bin", content=three_mib)
        assert first.status_code == 201
        # Another 3 MiB would leave 2: refused before a byte is read (Content-Length)...
        declared = await client.put("/sync/files/second.bin", content=three_mib)
        # ...and, without Content-Length, while it streams in.
        streamed = await client.put("/sync/files/second.bin", content=undeclared())
        # What still fits above the margin is accepted.
        small = await client.put("/sync/files/small.bin", content=bytes(MiB // 2))
    for refused in (declared, streamed):
        assert refused.status_code == 507
        assert "FILES_MIN_FREE_BYTES" in refused.json()["detail"]
    assert small.status_code == 201
    # Nothing of the refused uploads is left, and the volume never came near full.
    assert await asyncio.to_thread(names_in, small_volume) == ["first.bin", "small.bin"]
    assert await asyncio.to_thread(free_bytes, small_volume) >= MARGIN


async def test_a_margin_above_the_free_space_refuses_every_upload_with_507(
    tmp_path: Path, database_url: str, make_settings: Callable[..., Settings]
) -> None:
    files_dir = tmp_path / "files"
    await asyncio.to_thread(files_dir.mkdir)
    free = await asyncio.to_thread(free_bytes, files_dir)
    # Far above what any other writer on this disk could free meanwhile.
    settings = make_settings(
        database_url=database_url,
        files_dir=files_dir,
        files_min_free_bytes=free + 1024**3,
    )
    async with running_app(settings) as client:
        response = await client.put("/sync/files/one-byte.bin", content=b"x")
    assert response.status_code == 507
    assert await asyncio.to_thread(names_in, files_dir) == []
