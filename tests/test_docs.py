"""The generated decision table links only to proof tests that exist."""

import re
from pathlib import Path

from pytest_cookies.plugin import Cookies

LINKED_TEST = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def test_every_proof_the_decision_table_links_exists(cookies_session: Cookies) -> None:
    result = cookies_session.bake()
    assert result.exit_code == 0, result.exception
    project: Path = result.project_path
    table = (project / "docs" / "concurrency.md").read_text(encoding="utf-8")
    links = LINKED_TEST.findall(table)
    assert len(links) >= 10
    missing = [
        f"{path}::{name}"
        for path, name in links
        if not re.search(
            rf"^(async )?def {name}\(", (project / path).read_text(encoding="utf-8"), re.M
        )
    ]
    assert missing == []
