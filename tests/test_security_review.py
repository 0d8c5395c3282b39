"""The security review a production team runs on the deployment files, on every variant.

checkov (Bridgecrew's policy checks, offline) reads each bake's Dockerfile, GitHub workflow and
Kubernetes manifests, one process per bake. A finding passes only where the file suppresses it
in place and says why: a Kubernetes object with the annotation `checkov.io/skipN:
"CKV_K8S_xx=reason"` (checkov reads no comments in Kubernetes files), the Dockerfile and the
workflow with a `# checkov:skip=CKV_xx: reason` comment. A suppression must still suppress a
finding, so none outlives the reason it was written for.
"""

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cookiecutter.main import cookiecutter

from .bakes import TEMPLATE_DIR
from .parts import PART_VARIANTS

VARIANTS: dict[str, dict[str, str]] = {"default": {}, **PART_VARIANTS}
# In a tool environment of its own (uv's cache keeps it): checkov pins packaging below 24,
# which would hold the template's pytest and everything else back with it.
CHECKOV = ["uv", "tool", "run", "--from", "checkov==3.3.30", "checkov"]
FRAMEWORKS = ("kubernetes", "dockerfile", "github_actions")
# What checkov records for a suppression that gives no reason.
NO_REASON = "No comment provided"
SKIP_COMMENT = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)")
SKIP_ANNOTATION = re.compile(r"checkov\.io/skip\d+")


def checkov_reports(project: Path) -> dict[str, dict[str, Any]]:
    """check type -> checkov's JSON report of the project, every framework in one process."""
    result = subprocess.run(
        [
            *CHECKOV,
            "--directory",
            ".",
            "--framework",
            *FRAMEWORKS,
            "--output",
            "json",
            # The policies ship with checkov; the download is of Prisma Cloud's extras.
            "--skip-download",
        ],
        cwd=project,
        # One process, no pool of its own: xdist already runs a review on each core.
        env={**os.environ, "CHECKOV_PARALLELIZATION_TYPE": "none"},
        capture_output=True,
        text=True,
        # The first run installs checkov into uv's cache.
        timeout=600,
        check=False,
    )
    # 1: findings, which the test reports itself; anything else: checkov did not finish.
    assert result.returncode in {0, 1}, result.stdout + result.stderr
    parsed = json.loads(result.stdout)
    reports = parsed if isinstance(parsed, list) else [parsed]
    return {report["check_type"]: report for report in reports if "check_type" in report}


def suppressions_in_place(project: Path) -> set[tuple[str, str]]:
    """(file, check id) of each suppression the project's files write."""
    found = set()
    for path in (project / "deploy/kubernetes").glob("*.yaml"):
        document = yaml.safe_load(path.read_text("utf-8"))
        # kustomization.yaml is no object, and checkov reads it as none.
        annotations = document.get("metadata", {}).get("annotations", {})
        for key, value in annotations.items():
            if SKIP_ANNOTATION.fullmatch(key):
                found.add((f"/{path.relative_to(project)}", value.partition("=")[0]))
    for path in [project / "Dockerfile", *(project / ".github/workflows").glob("*.yml")]:
        for check_id in SKIP_COMMENT.findall(path.read_text("utf-8")):
            found.add((f"/{path.relative_to(project)}", check_id))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_checkov_finds_nothing_the_files_do_not_suppress_with_a_reason(
    variant: str, tmp_path: Path
) -> None:
    # Nothing here installs the bake: the template's defaults, Python included, as users get them.
    project = Path(
        cookiecutter(
            str(TEMPLATE_DIR),
            no_input=True,
            output_dir=str(tmp_path),
            extra_context=VARIANTS[variant],
        )
    )
    reports = checkov_reports(project)
    assert set(reports) == set(FRAMEWORKS)
    skipped: set[tuple[str, str]] = set()
    for framework, report in reports.items():
        summary = report["summary"]
        # Each framework found its files: a review of nothing would pass too.
        assert summary["passed"] > 0, f"{framework}: checkov checked nothing"
        assert summary["parsing_errors"] == 0, report["results"].get("parsing_errors")
        failed = [
            f"{check['check_id']} {check['check_name']}: {check['resource']} ({check['file_path']})"
            for check in report["results"]["failed_checks"]
        ]
        assert not failed, f"{framework} findings:\n" + "\n".join(failed)
        for check in report["results"]["skipped_checks"]:
            reason = check["check_result"].get("suppress_comment", "").strip()
            where = f"{check['check_id']} on {check['resource']} ({check['file_path']})"
            assert reason and reason != NO_REASON, f"{where} is suppressed without a reason"
            skipped.add((check["file_path"], check["check_id"]))
    # Every suppression written in the files still suppresses a finding.
    stale = suppressions_in_place(project) - skipped
    assert not stale, f"suppressions no finding needs any more: {sorted(stale)}"
