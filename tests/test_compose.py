"""The team deployment's files: docker-compose.yml validates and runs real commands; the Dockerfile's essentials.

No Docker engine is needed: ``docker-compose config`` (Debian's
``docker-compose`` 1.29) validates and resolves the file, and the Dockerfile is
read as text. The compose file is checked for what the deployment relies on:
each monitor service's command parses as a real ``monitor`` command, the
environment points at the ``postgres`` service and the mounted settings file
(which must load), the start order (PostgreSQL healthy, the migration done)
and the health checks.

YAML: ``docker-compose config`` prints YAML; PyYAML is read from the venv when
installed, else from the Python that runs docker-compose (Debian's package
depends on python3-yaml).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from monitor import cli
from monitor.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
#: Debian bookworm's postgresql-client (the image's pg_dump) is PostgreSQL 15; pg_dump refuses newer servers.
CLIENT_MAJOR = 15
#: What each monitor service runs: its command's handler in monitor.cli.
SERVICES = {"migrate": "cmd_db_upgrade", "scheduler": "cmd_run", "dashboard": "cmd_dashboard"}


def _compose_binary() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("docker-compose is not installed; .ci/run installs Debian's docker-compose package")
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    return found


def _yaml_to_data(text: str, compose: str) -> Any:
    try:
        import yaml  # noqa: PLC0415
    except ImportError:
        pass
    else:
        return yaml.safe_load(text)
    # the interpreter docker-compose runs on has PyYAML (a dependency of the package)
    first = Path(compose).read_text(errors="replace").splitlines()[0]
    if not first.startswith("#!"):
        pytest.fail(f"cannot parse YAML: no PyYAML in this venv and {compose} is not a Python script; "
                    "add PyYAML to the test extras")
    interpreter = shlex.split(first[2:])
    code = "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"
    proc = subprocess.run([*interpreter, "-c", code], input=text, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    """``docker-compose config``: the file validated, variables resolved (defaults), as data."""
    compose = _compose_binary()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MONITOR_", "POSTGRES_", "COMPOSE_", "DOCKER_"))}
    proc = subprocess.run([compose, "-f", str(COMPOSE), "config"], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, f"docker-compose config failed:\n{proc.stderr}"
    return _yaml_to_data(proc.stdout, compose)


def _parse(argv: list[str]) -> Any:
    try:
        return cli.build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"`monitor {' '.join(argv)}` is not a monitor command (argparse exit {exc.code})")


def _mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """target -> (source, mode) of a service's volumes (short syntax, as docker-compose config prints them)."""
    out = {}
    for item in service.get("volumes", []):
        if isinstance(item, dict):
            out[item["target"]] = (item.get("source", ""), "ro" if item.get("read_only") else "rw")
            continue
        parts = item.split(":")
        source, target = parts[0], parts[1]
        out[target] = (source, parts[2] if len(parts) > 2 else "rw")
    return out


# docker-compose.yml ----------------------------------------------------------------
def test_compose_file_validates(config: dict[str, Any]) -> None:
    assert set(config["services"]) == {"postgres", *SERVICES}


def test_postgres_is_pinned_persistent_and_checked(config: dict[str, Any]) -> None:
    pg = config["services"]["postgres"]
    image = pg["image"]
    m = re.fullmatch(r"postgres:(\d+)\.(\d+)-bookworm", image)
    assert m, f"pin the PostgreSQL image to a minor version: {image}"
    assert int(m.group(1)) == CLIENT_MAJOR, (
        f"PostgreSQL {m.group(1)} but the image's pg_dump is {CLIENT_MAJOR}: `monitor db backup` would fail")
    source, _mode = _mounts(pg)["/var/lib/postgresql/data"]
    assert source in config.get("volumes", {}), "PostgreSQL's data must live in a named volume"
    test = pg["healthcheck"]["test"]
    assert "pg_isready" in " ".join(test)
    env = pg["environment"]
    assert env["POSTGRES_USER"] and env["POSTGRES_DB"] and env["POSTGRES_PASSWORD"]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_service_runs_a_real_monitor_command(config: dict[str, Any], name: str) -> None:
    service = config["services"][name]
    command = service["command"]
    assert isinstance(command, list) and command[0] == "monitor", command
    args = _parse(command[1:])
    assert args.func.__name__ == SERVICES[name]
    if name == "scheduler":
        assert args.once is False  # the long-running scheduler, not one pass
    assert service["build"]["context"] == str(ROOT)
    assert service.get("init") is True, "an init process forwards SIGTERM and reaps children"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_service_has_the_environment_it_needs(config: dict[str, Any], name: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    services = config["services"]
    env = services[name]["environment"]
    pg = services["postgres"]["environment"]
    url = make_url(env["MONITOR_DATABASE_URL"])
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.username) == ("postgres", 5432, pg["POSTGRES_DB"], pg["POSTGRES_USER"])
    assert url.password is None, "keep the password out of the URL (PGPASSWORD)"
    assert env["PGPASSWORD"] == pg["POSTGRES_PASSWORD"]
    # the settings file: mounted read-only where MONITOR_CONFIG says, and valid
    source, mode = _mounts(services[name])[env["MONITOR_CONFIG"]]
    assert mode == "ro" and Path(source).is_file(), (source, mode)
    # the container's settings load: its MONITOR_* variables and the mounted file
    for key, value in env.items():
        if key.startswith("MONITOR_"):
            monkeypatch.setenv(key, str(value))
    monkeypatch.setenv("MONITOR_CONFIG", source)
    monkeypatch.setenv("MONITOR_SEEDS_DIR", str(ROOT / "seeds"))  # the image sets /app/seeds
    settings = load_settings()
    assert settings.database_url == env["MONITOR_DATABASE_URL"]


def test_start_order_and_restarts(config: dict[str, Any]) -> None:
    services = config["services"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    for name in ("scheduler", "dashboard"):
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name
        assert services[name]["restart"] in ("unless-stopped", "always")


def test_health_checks(config: dict[str, Any]) -> None:
    services = config["services"]
    scheduler = services["scheduler"]["healthcheck"]["test"]
    assert scheduler[0] == "CMD" and scheduler[1] == "monitor"
    assert _parse(scheduler[2:]).func.__name__ == "cmd_health"
    dashboard = services["dashboard"]
    args = _parse(dashboard["command"][1:])
    assert args.host == "0.0.0.0"
    probe = dashboard["healthcheck"]["test"]
    assert probe[:3] == ["CMD", "python", "-c"]
    assert f"http://127.0.0.1:{args.port}/healthz" in probe[3]
    compile(probe[3], "<healthcheck>", "exec")  # the probe is valid Python
    published = dashboard["ports"]
    assert any((p.get("published"), p.get("target")) == (8050, args.port) if isinstance(p, dict)
               else p == f"8050:{args.port}" for p in published), published


def test_the_example_settings_file_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_CONFIG", str(ROOT / "monitor.example.toml"))
    settings = load_settings()
    assert settings.alert_rules and settings.themes  # what the demo's alert needs


# Dockerfile -------------------------------------------------------------------------
def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    current = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current += " " + line.removesuffix("\\").strip()
        if line.endswith("\\"):
            continue
        word, _, rest = current.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    return out


def _dockerignore() -> list[str]:
    path = ROOT / ".dockerignore"
    if not path.exists():
        return []
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def test_dockerfile_essentials() -> None:
    steps = _instructions()
    kinds = [k for k, _ in steps]
    (base,) = [a for k, a in steps if k == "FROM"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base), f"pin a slim Python 3.11 base: {base}"

    users = [a for k, a in steps if k == "USER"]
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert kinds.index("USER") > max(i for i, k in enumerate(kinds) if k == "RUN"), "USER after the last RUN"

    runs = " ".join(a for k, a in steps if k == "RUN")
    assert "postgresql-client" in runs, "pg_dump and pg_restore for `monitor db backup`"
    assert re.search(r"pip install (--no-cache-dir )?\.(\s|$)", runs), "install the project itself from pyproject.toml"
    assert "[test" not in runs and "[bench" not in runs, "no test or benchmark extras in the image"
    assert not re.search(r"pip install[^&;]*\s(-e|--editable)\s", runs), "a real install, not an editable one"

    copies = [a.split() for k, a in steps if k == "COPY"]
    sources = {src.rstrip("/") for parts in copies for src in parts[:-1] if not src.startswith("--")}
    for src in sorted(sources):
        assert (ROOT / src).exists(), f"the Dockerfile copies {src}, which does not exist"
    ignored = _dockerignore()
    for src in sources:
        assert src not in ignored and f"{src}/" not in ignored, f".dockerignore leaves out {src}"

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = {"pyproject.toml", pyproject["project"]["readme"]}
    needed |= {p.rstrip("*").rstrip(".") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert needed <= sources, f"the build needs {sorted(needed - sources)}"
    assert "seeds" in sources, "the first pass reads the bundled seeds"

    env = " ".join(a for k, a in steps if k == "ENV")
    seeds_to = next(parts[-1] for parts in copies if parts[0].rstrip("/") == "seeds")
    workdir = [a for k, a in steps if k == "WORKDIR"]
    seeds_dir = str(Path(workdir[0]) / seeds_to) if not seeds_to.startswith("/") else seeds_to
    assert f"MONITOR_SEEDS_DIR={seeds_dir.rstrip('/')}" in env
    (cmd,) = [a for k, a in steps if k == "CMD"]
    assert json.loads(cmd)[0] == "monitor"
    _parse(json.loads(cmd)[1:])


def test_compose_and_dockerfile_agree_on_the_dashboard_port(config: dict[str, Any]) -> None:
    exposed = [a for k, a in _instructions() if k == "EXPOSE"]
    args = _parse(config["services"]["dashboard"]["command"][1:])
    assert str(args.port) in " ".join(exposed)
