"""The deployment files, read as Docker would read them (issue 15, part 1).

No Docker engine runs in the test environment, so these tests parse docker-compose.yml, the
Dockerfile, deploy/ and requirements.lock and hold them to what recon really is: every command
a service runs is a real `recon` command with real options, every variable compose gives recon
is one recon reads, the mounted TOML loads with recon's own loader, every file built, copied or
mounted exists, the services start in the right order, and the image installs exactly the
locked runtime dependencies.
"""

from __future__ import annotations

import inspect
import json
import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import uvicorn.config
import yaml
from click.testing import CliRunner
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from fixtures.simulators import __main__ as simulators_cli
from fixtures.simulators.server import OFFSETS, Credentials, default_range
from fixtures.ward import generate_ward
from recon.cli import recon_group
from recon.demo import DEMO_DAYS, DEMO_SEED
from recon.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DEMO_ENV = ROOT / "deploy" / "demo.env"
ENV_EXAMPLE = ROOT / ".env.example"
# the services that run recon itself (the simulators run from the same image, but not recon)
RECON_SERVICES = sorted(
    name for name, service in SERVICES.items() if service.get("command", [None])[0] == "recon"
)
LONG_RUNNING = ("postgres", "api", "scheduler", "proxy", "simulators")
ONE_SHOT = ("migrate", "demo-loader")
# variables read by a library recon runs rather than by recon's code: uvicorn's trust in the
# proxy's X-Forwarded-* headers
LIBRARY_VARIABLES = {"FORWARDED_ALLOW_IPS": uvicorn.config}
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}")


# --- reading the files ------------------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as compose reads an .env file (comments and blank lines skipped)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}` and `$$`."""

    def one(found: re.Match[str]) -> str:
        name, op, arg = found["name"], found["op"], found["arg"]
        value = env.get(name)
        if op == ":?" and not value:
            raise AssertionError(f"compose refuses to start: {name}: {arg}")
        if op == ":-" and not value:
            return arg
        if op == "-" and value is None:
            return arg
        return value or ""

    return INTERPOLATION.sub(one, text).replace("$$", "$")


def variables_compose_reads() -> set[str]:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    uncommented = "\n".join(
        line.split(" #")[0] for line in text.splitlines() if not line.lstrip().startswith("#")
    )
    return {found["name"] for found in INTERPOLATION.finditer(uncommented)}


def service_environment(name: str, env: Mapping[str, str]) -> dict[str, str]:
    given = SERVICES[name].get("environment", {})
    assert isinstance(given, dict), f"{name}: environment as a mapping"
    return {key: interpolate(str(value), env) for key, value in given.items()}


def bind_mounts(name: str) -> dict[str, str]:
    """container path -> host path, for every bind mount of a service."""
    mounts = {}
    for volume in SERVICES[name].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts[target] = source
    return mounts


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, arguments = line.strip().partition(" ")
            out.append((instruction.upper(), arguments.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each from its FROM on."""
    found: list[list[tuple[str, str]]] = []
    for instruction, arguments in dockerfile_instructions():
        if instruction == "FROM":
            found.append([])
        found[-1].append((instruction, arguments))
    return found


def exec_form(arguments: str) -> list[str]:
    parsed = json.loads(arguments)
    assert isinstance(parsed, list), f"exec form expected: {arguments}"
    return [str(part) for part in parsed]


def names_recon_reads() -> set[str]:
    """The environment variables recon's own code reads (string literals `"RECON_…"` in recon/
    and adapters/), plus every variable the mounted TOML names for a secret."""
    names = set()
    for path in [*ROOT.joinpath("recon").rglob("*.py"), *ROOT.joinpath("adapters").rglob("*.py")]:
        names |= set(re.findall(r"[\"'](RECON_[A-Z0-9_]+)[\"']", path.read_text(encoding="utf-8")))
    return names | secret_variables_of_toml()


def secret_variables_of_toml() -> set[str]:
    config = tomllib.loads((ROOT / "deploy" / "recon.toml").read_text(encoding="utf-8"))
    return {
        value
        for channel in config["channels"].values()
        for key, value in channel.items()
        if key.endswith("_env")
    }


def resolve(command: list[str]) -> tuple[click.Command, click.Context]:
    """The click command a `recon …` argument list names, its arguments parsed and converted
    (values checked by their types) exactly as `recon` would, without running it."""
    assert command[0] == "recon"
    ctx = click.Context(recon_group, info_name="recon")
    current: click.Command = recon_group
    args = command[1:]
    while isinstance(current, click.Group):
        assert args, f"{command}: names a group, not a command"
        sub = current.get_command(ctx, args[0])
        assert sub is not None, f"{command}: no command {args[0]!r}"
        ctx = click.Context(sub, info_name=args[0], parent=ctx)
        current, args = sub, args[1:]
    parsed = current.make_context(ctx.info_name, list(args), parent=ctx.parent)
    return current, parsed


def recon_commands() -> Iterator[tuple[str, list[str]]]:
    for name in RECON_SERVICES:
        yield name, [str(part) for part in SERVICES[name]["command"]]
    for instruction, arguments in dockerfile_instructions():
        if instruction == "CMD":
            yield "Dockerfile CMD", exec_form(arguments)


def depends(name: str) -> dict[str, dict[str, Any]]:
    given = SERVICES[name].get("depends_on", {})
    if isinstance(given, list):
        return {dep: {"condition": "service_started"} for dep in given}
    return {dep: spec or {"condition": "service_started"} for dep, spec in given.items()}


def simulator_args() -> Any:
    command = [str(part) for part in SERVICES["simulators"]["command"]]
    assert command[:3] == ["python", "-m", "fixtures.simulators"]
    return simulators_cli.parser().parse_args(command[3:])


# --- commands -------------------------------------------------------------------------------


@pytest.mark.parametrize(("where", "command"), list(recon_commands()))
def test_every_recon_command_deployed_is_a_real_command_with_real_options(
    where: str, command: list[str]
) -> None:
    resolve(command)  # unknown command, unknown option or bad value: raises here
    help_run = CliRunner().invoke(recon_group, [*command[1:], "--help"])
    assert help_run.exit_code == 0, f"{where}: {help_run.output}"


def test_the_services_run_what_each_is_for() -> None:
    commands = {name: [str(p) for p in SERVICES[name]["command"]] for name in RECON_SERVICES}
    assert commands["migrate"] == ["recon", "db", "upgrade"]
    assert commands["api"][:2] == ["recon", "serve"]
    _, api = resolve(commands["api"])
    assert api.params["no_scheduler"] is True
    assert api.params["host"] == "0.0.0.0"
    assert commands["scheduler"][:2] == ["recon", "scheduler"]
    _, loader = resolve(commands["demo-loader"])
    assert loader.params["load_only"] is True


def test_the_simulators_command_uses_real_flags_and_listens_beyond_loopback() -> None:
    args = simulator_args()
    assert args.host == "0.0.0.0"


def test_the_demo_loader_loads_the_ward_the_simulators_serve() -> None:
    """The loader generates the ward's dossiers itself: its range and seed must be the ones the
    simulators generate their statements from, or nothing would match."""
    args = simulator_args()
    assert args.start is None  # the simulators' default: the 14 days ending yesterday
    assert args.end is None
    start, end = default_range()
    _, loader = resolve([str(p) for p in SERVICES["demo-loader"]["command"]])
    assert loader.params["days"] == (end - start).days + 1
    assert args.seed == DEMO_SEED
    ward_default = inspect.signature(generate_ward).parameters["dossiers_per_day"].default
    assert args.dossiers_per_day == ward_default


def test_the_demo_command_defaults_to_the_demo_length() -> None:
    demo = recon_group.get_command(click.Context(recon_group), "demo")
    assert demo is not None
    (days,) = [param for param in demo.params if param.name == "days"]
    assert days.default == DEMO_DAYS


# --- environment and configuration ----------------------------------------------------------


@pytest.mark.parametrize("name", RECON_SERVICES)
def test_every_variable_compose_gives_recon_is_one_recon_reads(name: str) -> None:
    given = set(SERVICES[name].get("environment", {}))
    unread = given - names_recon_reads() - set(LIBRARY_VARIABLES)
    assert not unread, f"{name} sets variables recon never reads: {sorted(unread)}"


def test_the_library_variables_compose_sets_are_read_by_that_library() -> None:
    for name, module in LIBRARY_VARIABLES.items():
        assert f'"{name}"' in inspect.getsource(module), f"{module.__name__} no longer reads {name}"


@pytest.mark.parametrize("name", [n for n in RECON_SERVICES if n != "migrate"])
def test_services_that_load_settings_get_every_secret_the_toml_names(name: str) -> None:
    assert secret_variables_of_toml() <= set(SERVICES[name]["environment"])


def test_the_simulators_get_only_variables_they_read() -> None:
    assert set(SERVICES["simulators"]["environment"]) <= set(Credentials.ENV.values())


@pytest.mark.parametrize("name", RECON_SERVICES)
def test_the_mounted_toml_loads_with_the_compose_environment(name: str) -> None:
    env = service_environment(name, read_env_file(DEMO_ENV))
    mounts = bind_mounts(name)
    assert env["RECON_CONFIG"] in mounts, f"{name}: RECON_CONFIG is not a mounted file"
    env["RECON_CONFIG"] = str(ROOT / mounts[env["RECON_CONFIG"]])
    settings = load_settings(env)
    assert settings.database_url.startswith("postgresql+asyncpg://recon:")
    assert urlsplit(settings.database_url).hostname == "postgres"
    assert settings.channels


def test_the_channels_point_at_the_simulators_service_not_at_loopback() -> None:
    env = {**read_env_file(DEMO_ENV), "RECON_CONFIG": str(ROOT / "deploy" / "recon.toml")}
    settings = load_settings(env)
    port_base = simulator_args().port_base
    for name, channel in settings.channels.items():
        base_url = getattr(channel, "base_url", None)
        if base_url is None:
            continue  # a file-fed channel
        parts = urlsplit(base_url)
        assert parts.hostname == "simulators", f"{name}: {base_url}"
        assert parts.port == port_base + OFFSETS[name]
        assert str(parts.port) in [str(p) for p in SERVICES["simulators"]["expose"]]


def test_the_migrate_service_starts_with_the_secrets_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As compose gives it when .env leaves the secrets empty: `recon db upgrade` migrates."""
    from recon.cli import main

    env = service_environment("migrate", {"POSTGRES_PASSWORD": "x"})
    assert {env[v] for v in secret_variables_of_toml() if v in env} <= {""}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("RECON_CONFIG", str(ROOT / bind_mounts("migrate")[env["RECON_CONFIG"]]))
    monkeypatch.setenv("RECON_DATABASE_URL", f"sqlite:///{tmp_path / 'recon.db'}")
    assert main(["db", "upgrade", "--json"]) == 0


def test_env_example_lists_every_variable_compose_reads_with_the_secrets_empty() -> None:
    example = read_env_file(ENV_EXAMPLE)
    assert set(example) == variables_compose_reads()
    secrets = secret_variables_of_toml() | {"POSTGRES_PASSWORD"}
    assert {example[name] for name in secrets} == {""}


def test_the_demo_env_holds_the_simulators_public_credentials() -> None:
    demo = read_env_file(DEMO_ENV)
    assert set(demo) <= variables_compose_reads()
    public = Credentials()
    assert public.recon_env() == {name: demo[name] for name in public.recon_env()}
    assert demo["POSTGRES_PASSWORD"]


def test_the_compose_file_needs_a_database_password() -> None:
    with pytest.raises(AssertionError, match="POSTGRES_PASSWORD"):
        service_environment("api", {})


# --- order, restarts, ports, profiles -------------------------------------------------------


def test_postgres_keeps_its_data_in_a_volume_and_says_when_it_is_ready() -> None:
    postgres = SERVICES["postgres"]
    assert "healthcheck" in postgres
    (volume,) = postgres["volumes"]
    assert volume.split(":")[0] in COMPOSE["volumes"]


def test_migrate_runs_once_postgres_is_healthy_and_the_others_wait_for_it() -> None:
    assert depends("migrate")["postgres"]["condition"] == "service_healthy"
    for name in ("api", "scheduler", "demo-loader"):
        assert depends(name)["migrate"]["condition"] == "service_completed_successfully", name
    assert depends("proxy").keys() == {"api"}


def test_the_scheduler_waits_for_the_demo_ward_only_when_the_demo_runs() -> None:
    loader = depends("scheduler")["demo-loader"]
    assert loader == {"condition": "service_completed_successfully", "required": False}


def test_every_service_restarts_on_failure() -> None:
    for name in LONG_RUNNING:
        assert SERVICES[name]["restart"] in ("unless-stopped", "always", "on-failure"), name
    for name in ONE_SHOT:  # "always" would rerun a finished one-shot for ever
        assert SERVICES[name]["restart"] == "on-failure", name
    assert set(SERVICES) == {*LONG_RUNNING, *ONE_SHOT}


def test_the_api_publishes_no_host_port_and_the_proxy_publishes_one() -> None:
    for name, service in SERVICES.items():
        if name != "proxy":
            assert "ports" not in service, f"{name} publishes a port"
    (published,) = SERVICES["proxy"]["ports"]
    assert interpolate(published, {}) == "127.0.0.1:8000:8080"


def test_the_proxy_finds_every_api_replica_through_dockers_dns() -> None:
    mounts = bind_mounts("proxy")
    conf = (ROOT / mounts["/etc/nginx/conf.d/default.conf"]).read_text(encoding="utf-8")
    conf = "\n".join(line.split("#")[0] for line in conf.splitlines())
    assert re.search(r"^\s*resolver\s+127\.0\.0\.11\b", conf, re.M)
    assert re.search(r"^\s*listen\s+8080;", conf, re.M)
    (variable, upstream) = re.findall(r"^\s*set\s+(\$\w+)\s+(\S+);", conf, re.M)[0]
    assert re.search(rf"^\s*proxy_pass\s+\{variable};", conf, re.M), "a variable upstream"
    _, api = resolve([str(p) for p in SERVICES["api"]["command"]])
    assert upstream == f"http://api:{api.params['port']}"


def test_the_demo_profile_holds_the_simulators_and_the_loader_only() -> None:
    in_demo = {name for name, s in SERVICES.items() if "demo" in s.get("profiles", [])}
    assert in_demo == {"simulators", "demo-loader"}
    assert all(set(SERVICES[name]["profiles"]) == {"demo"} for name in in_demo)
    assert depends("demo-loader")["simulators"]["condition"] == "service_healthy"
    assert "healthcheck" in SERVICES["simulators"]


def test_services_that_serve_no_http_turn_the_images_healthcheck_off() -> None:
    for name in ("migrate", "scheduler", "demo-loader"):
        assert SERVICES[name]["healthcheck"] == {"disable": True}, name


# --- files built, copied and mounted --------------------------------------------------------


def test_every_file_compose_builds_from_or_mounts_exists() -> None:
    for name, service in SERVICES.items():
        build = service.get("build")
        if build is not None:
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = (
                "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            )
            assert (context / dockerfile).is_file(), name
        for host in bind_mounts(name).values():
            assert (ROOT / host).exists(), f"{name}: {host}"


def test_every_file_the_dockerfile_copies_exists() -> None:
    copied = 0
    for instruction, arguments in dockerfile_instructions():
        if instruction in ("COPY", "ADD"):
            parts = shlex.split(arguments)
            if any(p.startswith("--from=") for p in parts):
                continue
            sources = [p for p in parts if not p.startswith("--")][:-1]
            for source in sources:
                assert (ROOT / source).exists(), source
                copied += 1
    assert copied >= 5


def test_the_packages_the_image_installs_are_the_ones_recon_ships() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    copied = {
        shlex.split(arguments)[0]
        for instruction, arguments in dockerfile_instructions()
        if instruction == "COPY" and "--from" not in arguments
    }
    assert set(packages) <= copied


# --- the image ------------------------------------------------------------------------------


def test_the_image_is_multi_stage_slim_and_runs_as_a_user_of_its_own() -> None:
    builder, runtime = stages()
    assert " AS " in builder[0][1].upper()
    assert runtime[0][1].endswith("-slim")
    user = [args for instruction, args in runtime if instruction == "USER"]
    assert user
    assert user[-1] not in ("root", "0")
    for instruction, arguments in runtime:
        if instruction == "COPY":
            assert arguments.startswith("--from="), (
                f"the runtime stage copies only built files: {arguments}"
            )


def test_the_image_installs_the_lock_file_with_hashes_and_no_dev_extras() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    runs = [args for instruction, args in dockerfile_instructions() if instruction == "RUN"]
    assert any("--require-hashes" in run and "-r requirements.lock" in run for run in runs)
    assert any("--no-deps ." in run for run in runs), "recon itself adds no unlocked package"
    assert "[dev]" not in text
    assert ".[" not in text


def test_the_image_checks_healthz_without_curl() -> None:
    (health,) = [
        args for instruction, args in dockerfile_instructions() if instruction == "HEALTHCHECK"
    ]
    assert "/healthz" in health
    assert "urllib" in health
    assert "curl" not in health
    (cmd,) = [args for instruction, args in dockerfile_instructions() if instruction == "CMD"]
    _, serve = resolve(exec_form(cmd))
    assert f":{serve.params['port']}/healthz" in health


# --- the lock file --------------------------------------------------------------------------


def locked() -> dict[str, tuple[str, int]]:
    """name -> (pinned version, number of hashes) from requirements.lock."""
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pins: dict[str, tuple[str, int]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        first = block.split(" ", 1)[0].strip()
        if "==" in first:
            name, version = first.split("==")
            pins[canonicalize_name(name)] = (version, block.count("--hash=sha256:"))
    return pins


def test_every_runtime_dependency_is_pinned_within_its_range_with_hashes() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = locked()
    assert all(hashes for _, hashes in pins.values()), "every pin carries its hashes"
    for line in pyproject["project"]["dependencies"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements.lock"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), (
            f"{requirement.name}=={pins[name][0]} is outside {requirement.specifier}"
        )
    # what the extras bring: sqlalchemy[asyncio] greenlet, psycopg[binary] its binary build
    assert "greenlet" in pins
    assert "psycopg-binary" in pins


def test_the_lock_file_holds_no_dev_dependency() -> None:
    """Only the runtime dependencies are locked: what the lock holds for recon itself is one of
    `[project] dependencies`, never one of the dev extras."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    runtime = {canonicalize_name(Requirement(d).name) for d in pyproject["project"]["dependencies"]}
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        if "==" in block.split(" ", 1)[0] and "recon (pyproject.toml)" in block:
            name = canonicalize_name(block.split("==", 1)[0])
            assert name in runtime, f"{name} is locked for recon but is no runtime dependency"
    assert not {"pytest", "mypy", "ruff", "hypothesis", "playwright", "respx"} & set(locked())


def test_no_package_index_is_named_in_the_repository_deploy_files() -> None:
    for path in ("requirements.lock", "Dockerfile", "docker-compose.yml", "Makefile"):
        for line in (ROOT / path).read_text(encoding="utf-8").splitlines():
            code = line.split("#")[0] if path != "requirements.lock" else line
            assert not re.search(r"--(extra-)?index-url|--find-links|--trusted-host", code), line
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    assert "://" not in lock
