"""Running commands in baked projects."""

import os
import subprocess
from pathlib import Path


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
    assert result.returncode == 0, f"{' '.join(command)} failed in {cwd}:\n{output[-6000:]}"
    return output
