"""The deployment files stay true to the project: no Docker engine or systemd runs here, so
this checks what can be checked. The compose file parses and runs each Procfile process with
the Procfile's command; the Dockerfile copies files that exist, installs from the lock file
and runs its commands from the project; each systemd unit's ExecStart starts from the project
(`--check-config`, `--help`); every variable the files set is one the portal reads."""

import configparser
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def unit(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(path)
    return parser["Service"]


def test_the_procfile_names_web_worker_and_beat():
    assert set(procfile()) == {"web", "worker", "beat"}


def test_compose_runs_every_process_with_the_procfiles_command():
    services = compose()["services"]
    assert {"web", "worker", "beat", "db", "redis"} <= set(services)
    for name, command in procfile().items():
        assert services[name]["command"] == command, name
    # One beat: never scaled, never given replicas.
    assert "deploy" not in services["beat"] and "scale" not in services["beat"]
    assert services["db"]["image"].startswith("postgres:") and services["redis"]["image"].startswith("redis:")
    env = services["web"]["environment"]
    assert env["FILE_STORAGE"] == "database"  # logos every web container sees
    assert env["DATABASE_URL"].startswith("postgres://") and env["CELERY_BROKER_URL"].startswith("redis://")


def dockerfile() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_the_dockerfile_is_slim_non_root_and_runs_gunicorn_like_the_procfile():
    instructions = dockerfile()
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", dict(instructions)["FROM"])
    users = [value for keyword, value in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    # The last USER comes before the command: the server never runs as root.
    last_user = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "USER")
    assert last_user < max(i for i, (keyword, _) in enumerate(instructions) if keyword == "CMD")
    [cmd] = [value for keyword, value in instructions if keyword == "CMD"]
    assert shlex.join(json.loads(cmd)) == procfile()["web"]
    runs = " ".join(value for keyword, value in instructions if keyword == "RUN")
    assert "--require-hashes" in runs and "requirements.lock" in runs
    assert "manage.py collectstatic" in runs
    for keyword, value in instructions:
        if keyword == "COPY":
            *sources, _ = value.split()
            for source in sources:
                assert source == "." or (ROOT / source).exists(), f"COPY {source}: not in the project"


def test_the_dockerfiles_collectstatic_runs_from_the_project(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env={"PATH": str(BIN), "SECRET_KEY": "collectstatic-only", "DEBUG": "false",
             "STATIC_ROOT": str(tmp_path / "static"), "VAR_DIR": str(tmp_path / "var")},
        capture_output=True, text=True, timeout=600,  # WhiteNoise compresses every file: slow on a busy machine
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "static" / "staticfiles.json").exists()  # WhiteNoise's manifest


def test_there_is_a_unit_for_each_process():
    assert [path.name for path in UNITS] == [f"clear-down-{name}.service" for name in sorted(procfile())]


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.stem)
def test_each_units_command_is_the_procfiles_and_starts_from_the_project(path, tmp_path):
    service = unit(path)
    process = path.stem.removeprefix("clear-down-")
    program, *args = shlex.split(service["ExecStart"])
    assert program == f"{service['WorkingDirectory']}/.venv/bin/{Path(program).name}"
    assert shlex.join([Path(program).name, *args]) == procfile()[process]
    assert service["User"] not in ("root", "0") and service["EnvironmentFile"].startswith("/etc/")
    # Run it here, from the project's venv, in the form that loads everything and stops.
    check = ["--check-config"] if Path(program).name == "gunicorn" else ["--help"]
    result = subprocess.run(
        [str(BIN / Path(program).name), *args, *check],
        cwd=ROOT,
        env={"PATH": str(BIN), "DEBUG": "true", "VAR_DIR": str(tmp_path), "HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def settings_read() -> set[str]:
    sources = [ROOT / "opcc_portal" / "settings.py", ROOT / "gunicorn.conf.py", ROOT / "opcc_portal" / "metrics.py"]
    names = set()
    for source in sources:
        names |= set(re.findall(r"""["']([A-Z][A-Z0-9_]+)["']""", source.read_text()))
    return names


def test_every_variable_the_files_set_is_read_by_the_portal():
    read = settings_read()
    compose_env = set(compose()["services"]["web"]["environment"])
    unit_env = {
        line.split("=", 2)[1]
        for path in UNITS
        for line in path.read_text().splitlines()
        if line.startswith("Environment=")
    }
    docker_env = set(re.findall(r"\b([A-Z][A-Z0-9_]+)=", dict(dockerfile())["ENV"]))
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if re.match(r"[A-Z][A-Z0-9_]*=", line)
    }
    # Python's own, read by the interpreter and pip rather than the portal.
    python_own = {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK"}
    for where, names in (("compose.yaml", compose_env), ("systemd", unit_env), ("Dockerfile", docker_env - python_own),
                         (".env.example", example)):  # fmt: skip
        assert names and names <= read, f"{where} sets {sorted(names - read)}, which nothing reads"
