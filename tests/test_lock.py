"""The lock files: every package pinned to one version with hashes, within the ranges of
requirements*.txt, the development lock on the same versions as the portal's, and installed
from by `make venv` (so `make run`, `make test` and CI) and by the Dockerfile."""

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def ranges(name: str) -> dict[str, Requirement]:
    found = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-r"):
            requirement = Requirement(line)
            found[canonicalize_name(requirement.name)] = requirement
    return found


def lock(name: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a lock file."""
    text = (ROOT / name).read_text().replace("\\\n", " ")
    pinned = {}
    for line in text.splitlines():
        match = re.match(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", line)
            pinned[canonicalize_name(match.group(1))] = (match.group(2), hashes)
    return pinned


@pytest.mark.parametrize(("lock_file", "sources"), [
    ("requirements.lock", ["requirements.txt"]),
    ("requirements-dev.lock", ["requirements.txt", "requirements-dev.txt"]),
])  # fmt: skip
def test_every_package_is_pinned_with_hashes_within_its_range(lock_file, sources):
    pinned = lock(lock_file)
    assert pinned
    for name, (_version, hashes) in pinned.items():
        assert hashes, f"{name} has no hash in {lock_file}"
    for source in sources:
        for name, requirement in ranges(source).items():
            assert name in pinned, f"{name} ({source}) is not in {lock_file}: run `make lock`"
            version = pinned[name][0]
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{lock_file} has {name}=={version}, outside {source}'s {requirement.specifier}: run `make lock`"
            )


def test_every_range_has_an_upper_bound():
    for source in ("requirements.txt", "requirements-dev.txt"):
        for name, requirement in ranges(source).items():
            operators = {spec.operator for spec in requirement.specifier}
            assert operators & {"<", "<=", "==", "~="}, f"{name} in {source} has no upper bound"


def test_the_development_lock_runs_the_portal_on_the_same_versions():
    runtime, development = lock("requirements.lock"), lock("requirements-dev.lock")
    for name, (version, _) in runtime.items():
        assert development[name][0] == version, (
            f"{name}: {version} in the portal, {development[name][0]} in development"
        )


def test_make_venv_and_the_dockerfile_install_from_the_locks_with_hashes():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r requirements-dev.lock" in makefile
    assert re.search(r"^\$\(STAMP\): requirements-dev\.lock$", makefile, re.MULTILINE)
    assert "pip install --require-hashes --no-deps -r requirements.lock" in (ROOT / "Dockerfile").read_text()
