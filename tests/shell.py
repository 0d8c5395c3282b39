"""Running commands in baked projects."""

import os
import subprocess
from pathlib import Path

# How much of a failed command's output goes into the test's failure message.
SHOWN = 6000


def run(command: list[str], cwd: Path, timeout: float = 600, **env: str) -> str:
    """Run a command in a baked project; fail the test with its output if it fails."""
    result = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    excerpt = failure_excerpt(output)
    assert result.returncode == 0, f"{' '.join(command)} failed in {cwd}:\n{excerpt}"
    return output


def failure_excerpt(output: str) -> str:
    """The tail of the output and, for pytest, the start of its FAILURES section: with `-rp`
    the tail is a list of passed tests, and the tracebacks come before it."""
    tail = output[-SHOWN:]
    failures = output.find("= FAILURES =")
    if failures < 0 or failures >= len(output) - SHOWN:  # none, or already in the tail
        return tail
    return f"{output[failures : failures + SHOWN]}\n[...]\n{tail}"
