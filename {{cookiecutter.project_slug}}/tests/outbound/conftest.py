from collections.abc import Iterator

import pytest

from .stub import Stub, running_stub


@pytest.fixture(scope="module")
def stub() -> Iterator[Stub]:
    # A sync fixture: the stub starts outside the test's event loop, which its start-up
    # (a poll) would block.
    with running_stub() as served:
        yield served
