"""The container stack of docker/, validated without a Docker engine (none runs on the
development or CI machines): every file, port, variable, command and health check that the
Dockerfiles, compose.yml, nginx.conf and .env.example name must exist in the code they start,
and the README must document the commands the images run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dockerfile
import pytest
import typer.main
import yaml
from starlette.routing import Match

from bot.cli import app as hotline_app
from bot.config import BotSettings
from intake_api.config import Settings
from intake_api.config_sources import config_file_path
from intake_api.crypto import generate_key

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE_FILE = DOCKER / "compose.yml"
ENV_EXAMPLE = DOCKER / ".env.example"
README = (REPO / "README.md").read_text(encoding="utf-8")
OUR_IMAGE = "hotline:latest"
SETTINGS_CLASSES = (Settings, BotSettings)
# Read by intake_api.config_sources.config_file_path, not a field (checked below).
CONFIG_FILE_VARIABLE = "HOTLINE_CONFIG_FILE"
# Programs that third-party images ship, for their health checks: the postgres image has the
# PostgreSQL client programs; nginx's Alpine image has BusyBox (wget); Rasa's image runs Python.
THIRD_PARTY_BINARIES = {"postgres:15": {"pg_isready"}, "nginx:1.27-alpine": {"wget", "nginx"}}
# Rasa's HTTP API (rasa.core.http_interface): "/" says hello, /status and /version describe it.
RASA_ROUTES = {"/", "/status", "/version"}


def setting_variables() -> set[str]:
    return {f"HOTLINE_{name.upper()}" for cls in SETTINGS_CLASSES for name in cls.model_fields}


# --- reading the files ------------------------------------------------------------------------


@dataclass
class Stage:
    name: str | None
    base: str
    commands: list[dockerfile.Command]

    def of(self, instruction: str) -> list[dockerfile.Command]:
        return [c for c in self.commands if c.cmd == instruction]

    def env(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for command in self.of("ENV"):
            pairs = command.value
            found.update(dict(zip(pairs[::2], pairs[1::2], strict=True)))
        return found


def stages(path: Path) -> list[Stage]:
    """The build stages of a Dockerfile, parsed by BuildKit's own parser (`dockerfile`)."""
    found: list[Stage] = []
    for command in dockerfile.parse_file(str(path)):
        if command.cmd == "FROM":
            base, *alias = command.value
            name = alias[1] if len(alias) == 2 and alias[0].upper() == "AS" else None
            found.append(Stage(name, base, []))
        elif found:
            found[-1].commands.append(command)
    return found


def run_text(command: dockerfile.Command) -> str:
    return " ".join(command.value)


_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_]\w*)")


class MissingVariable(Exception):
    pass


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${...} interpolation: $$, ${X}, ${X:-default}, ${X-default}, ${X:?error}."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        op, arg = match.group(2), match.group(3)
        current = env.get(name)
        unset_or_empty = current is None or (op is not None and op.startswith(":") and not current)
        if op in (":?", "?") and unset_or_empty:
            raise MissingVariable(f"{name}: {arg}")
        if op in (":-", "-") and unset_or_empty:
            return arg
        return current or ""

    return _VARIABLE.sub(one, value)


def env_example() -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(active NAME=value lines, commented '# NAME=value' lines, all lines)."""
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    active: dict[str, str] = {}
    commented: dict[str, str] = {}
    for line in lines:
        if m := re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line):
            active[m[1]] = m[2]
        elif m := re.fullmatch(r"# ([A-Z][A-Z0-9_]*)=(.*)", line):
            commented[m[1]] = m[2]
    return active, commented, lines


def filled_secrets() -> dict[str, str]:
    """The template's active values with its empty secrets filled in, as an operator does."""
    active, _, _ = env_example()
    filled = dict(active)
    filled.update(
        POSTGRES_PASSWORD="pw123",
        HOTLINE_ENCRYPTION_KEYS=generate_key(),
        HOTLINE_BLIND_INDEX_KEY=generate_key(),
        HOTLINE_INTAKE_TOKEN="hl_token",
    )
    return filled


def compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    raw = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return interpolate(raw, filled_secrets() if env is None else env)


def image_env() -> dict[str, str]:
    return {
        k: v for k, v in stages(DOCKER / "Dockerfile")[-1].env().items() if k.startswith("HOTLINE_")
    }


def service_env(service: dict[str, Any]) -> dict[str, str]:
    """What a container of our image sees: the image's ENV, then env_file, then environment."""
    env = image_env() if service.get("image") == OUR_IMAGE else {}
    if service.get("env_file"):
        env.update(filled_secrets())
    env.update({k: str(v) for k, v in (service.get("environment") or {}).items()})
    return {k: v for k, v in env.items() if k.startswith("HOTLINE_")}


@pytest.fixture
def settings_under(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Both settings objects as a process with exactly `env` (HOTLINE_* only) builds them."""

    def build(env: dict[str, str]) -> tuple[Settings, BotSettings]:
        with monkeypatch.context() as m:
            for name in [k for k in os.environ if k.startswith("HOTLINE_")]:
                m.delenv(name)
            for name, value in env.items():
                m.setenv(name, value)
            return Settings(), BotSettings()

    return build


# --- the hotline command ----------------------------------------------------------------------


def hotline_command(argv: list[str]) -> Any:
    """Parses a `hotline ...` command line the way the real command does; an unknown command
    or option fails here."""
    assert argv[0] == "hotline", argv
    command: Any = typer.main.get_command(hotline_app)
    words = list(argv[1:])
    path = ["hotline"]
    # Typer ships its own copy of click, so groups are told by their sub-commands.
    while hasattr(command, "commands"):
        assert words, f"`{' '.join(argv)}` names no command"
        name = words.pop(0)
        sub = command.commands.get(name)
        assert sub is not None, f"`hotline` has no command {' '.join([*path[1:], name])!r}"
        command, path = sub, [*path, name]
    return command.make_context(" ".join(path), words)


def listening_port(service: dict[str, Any], settings_under: Any) -> int:
    """The port the service's command listens on: `--port`, else the command's default, else
    HOTLINE_PORT as the service's settings read it."""
    context = hotline_command(service["command"])
    if context.params.get("port") is not None:
        return int(context.params["port"])
    settings, _ = settings_under(service_env(service))
    return settings.port


def ours(stack: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, service in stack["services"].items():
        if service.get("image") == OUR_IMAGE:
            yield name, service


# --- the apps the commands serve --------------------------------------------------------------


def routes_to(app: Any, method: str, path: str) -> bool:
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    return any(route.matches(scope)[0] == Match.FULL for route in app.router.routes)


ALL_CHANNELS = {
    "telegram_token": "1:token",
    "telegram_webhook_secret": "secret",
    "zalo_app_id": "1",
    "zalo_app_secret": "s",
    "zalo_oa_secret_key": "k",
    "zalo_access_token": "a",
    "zalo_refresh_token": "r",
    "twilio_account_sid": "AC00000000000000000000000000000000",
    "twilio_auth_token": "t",
    "twilio_from_number": "+84987000111",
    "voice_on_call": "+84901111111",
}


@pytest.fixture
def apps(sqlite_template: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The apps `hotline api` and `hotline bot` serve, the bot with every channel switched on."""
    from bot.server import bot_app
    from intake_api.app import create_app
    from intake_api.db import make_engine
    from tests.conftest import TEST_BLIND_KEY, TEST_KEYS
    from tests.intake_api.conftest import make_settings

    path = tmp_path / "hotline.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    settings = make_settings(tmp_path)
    from intake_api.crypto import PersonalDataCipher

    bot_settings = BotSettings(intake_transport="http", intake_token="t", **ALL_CHANNELS)
    bot = bot_app(bot_settings, engine, PersonalDataCipher(TEST_KEYS, TEST_BLIND_KEY), settings)
    yield {"api": create_app(settings, engine), "bot": bot}
    engine.dispose()


def bot_paths(bot: Any) -> set[str]:
    """Every path of the bot app: each channel's router, and the home page's redirect."""

    async def nothing(message: Any) -> Any:
        return None

    paths = {"/"}
    for channel in bot.state.bot.channels.values():
        router = channel.router(nothing)
        if router is not None:
            paths |= {route.path for route in router.routes}
    return paths


# --- nginx.conf -------------------------------------------------------------------------------


@dataclass
class Proxy:
    listen: set[int]
    upstreams: dict[str, str]  # variable -> URL
    exact: dict[str, str]  # path -> variable
    prefix: dict[str, str]

    def target(self, path: str) -> str:
        """nginx's choice: an exact location, else the longest matching prefix."""
        if path in self.exact:
            return self.exact[path]
        best = max((p for p in self.prefix if path.startswith(p)), key=len)
        return self.prefix[best]


def proxy_conf() -> Proxy:
    text = re.sub(r"#[^\n]*", "", (DOCKER / "nginx.conf").read_text(encoding="utf-8"))
    exact, prefix = {}, {}
    for kind, path, var in re.findall(
        r"location\s+(=\s+)?(\S+)\s*\{\s*proxy_pass\s+\$(\w+);\s*\}", text
    ):
        (exact if kind else prefix)[path] = var
    assert len(exact) + len(prefix) == text.count("location"), "a location the test cannot read"
    return Proxy(
        listen={int(p) for p in re.findall(r"listen\s+(\d+)\s*;", text)},
        upstreams=dict(re.findall(r"set\s+\$(\w+)\s+(\S+)\s*;", text)),
        exact=exact,
        prefix=prefix,
    )


# ==============================================================================================
# The files


def test_compose_parses_and_every_file_it_names_exists() -> None:
    stack = compose()
    assert {"db", "migrate", "api", "bot", "proxy", "rasa"} <= set(stack["services"])
    for name, service in stack["services"].items():
        build = service.get("build")
        if build:
            context = (DOCKER / build["context"]).resolve()
            assert context == REPO, f"{name}: the build context is the repository"
            assert (context / build["dockerfile"]).is_file(), f"{name}: {build['dockerfile']}"
        if service.get("env_file"):
            assert service["env_file"] == ".env"
            assert ENV_EXAMPLE.is_file(), "docker/.env is made from docker/.env.example"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).is_file(), f"{name}: {source} does not exist"
            else:
                assert source in stack["volumes"], f"{name}: volume {source} is not declared"
    assert "docker/.env" in (REPO / ".gitignore").read_text().splitlines(), "secrets committed"


def test_compose_refuses_to_start_without_the_secrets() -> None:
    active, _, _ = env_example()
    for secret in ("POSTGRES_PASSWORD", "HOTLINE_ENCRYPTION_KEYS", "HOTLINE_BLIND_INDEX_KEY"):
        assert active[secret] == "", f"{secret} must be empty in the template"
        with pytest.raises(MissingVariable, match=secret):
            compose({**filled_secrets(), secret: ""})


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.rasa"])
def test_every_file_a_dockerfile_copies_exists_in_the_build_context(name: str) -> None:
    for stage in stages(DOCKER / name):
        for copy in stage.of("COPY"):
            if any(flag.startswith("--from") for flag in copy.flags):
                continue
            *sources, _ = copy.value
            for source in sources:
                assert (REPO / source).exists(), f"{name}: COPY {source}: no such file"


def test_the_image_installs_what_the_package_needs() -> None:
    """The builder copies pyproject.toml and every package setuptools is told to find."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    builder = stages(DOCKER / "Dockerfile")[0]
    copied = {s.rstrip("/") for c in builder.of("COPY") for s in c.value[:-1]}
    assert {"pyproject.toml", project["project"]["readme"], *packages} <= copied


# ==============================================================================================
# The image


def test_the_image_is_built_in_stages_and_runs_without_compilers_or_root() -> None:
    builder, *_, final = stages(DOCKER / "Dockerfile")
    assert builder.name and final is not builder, "multi-stage: a builder, then the image"
    assert re.fullmatch(r"python:3\.1[1-9]-slim", final.base), final.base
    built_with = " ".join(run_text(c) for c in builder.of("RUN"))
    assert "build-essential" in built_with and "pip install" in built_with
    final_runs = " ".join(run_text(c) for c in final.of("RUN"))
    for tool in ("build-essential", "gcc", "g++", "make ", "apt-get install", "pip install"):
        assert tool not in final_runs, f"the final image installs {tool.strip()}"
    # What the final image takes from the builder: the venv, the data, the model.
    taken = {c.value[0] for c in final.of("COPY") if f"--from={builder.name}" in c.flags}
    assert taken == {"/opt/venv", "/app/nlu_data", "/app/model"}
    users = final.of("USER")
    assert users, "the image runs as root"
    assert users[-1].value[0] not in {"root", "0"}
    assert any(
        "useradd" in run_text(c) and users[-1].value[0] in run_text(c) for c in final.of("RUN")
    )
    assert final.of("HEALTHCHECK"), "no HEALTHCHECK"
    assert stages(DOCKER / "Dockerfile.rasa")[-1].of("USER")[-1].value[0] not in {"root", "0"}


def test_the_nlu_model_is_built_into_the_image_where_the_service_reads_it(
    settings_under: Any,
) -> None:
    builder, *_, final = stages(DOCKER / "Dockerfile")
    _, bot_settings = settings_under(image_env())
    model = str(bot_settings.nlu_model_path)
    trains = [c for c in builder.of("RUN") if "hotline nlu train" in run_text(c)]
    assert trains, "the builder does not train the NLU"
    assert builder.env()["HOTLINE_NLU_MODEL_PATH"] == model
    assert builder.env()["HOTLINE_NLU_DATA_DIR"] == str(bot_settings.nlu_data_dir)
    # Saved with mode 600 by root, read by the service's user: made readable, not writable.
    assert f"chmod a+r {model}" in run_text(trains[-1])
    assert any(c.value[0] == str(Path(model).parent) for c in final.of("COPY"))
    # The data the model was trained on comes along, so it is not seen as stale and retrained.
    assert any(c.value[0] == str(bot_settings.nlu_data_dir) for c in final.of("COPY"))


def test_the_rasa_image_trains_rasa_36_on_what_the_rasa_harness_trains() -> None:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import rasa_server
    finally:
        sys.path.remove(str(REPO / "bench"))
    (stage,) = stages(DOCKER / "Dockerfile.rasa")
    assert stage.base == f"rasa/rasa:{rasa_server.RASA_VERSION}"
    assert rasa_server.RASA_VERSION.startswith("3.6.")
    copied = {s for c in stage.of("COPY") for s in c.value[:-1]}
    training = {str(p.relative_to(REPO)) for p in rasa_server.rasa_nlu_files()}
    assert training <= copied, f"not in the Rasa image: {training - copied}"
    assert {"nlu_data/config.yml", "nlu_data/domain.yml"} <= copied
    (train,) = [c for c in stage.of("RUN") if "rasa train nlu" in run_text(c)]
    for option in ("--config /app/config.yml", "--domain /app/domain.yml", "--nlu /app/data"):
        assert option in run_text(train)
    assert stage.env()["RASA_TELEMETRY_ENABLED"] == "false"


# ==============================================================================================
# Commands and ports


def test_every_entry_command_is_a_real_hotline_command_the_readme_documents() -> None:
    final = stages(DOCKER / "Dockerfile")[-1]
    commands = [list(final.of("CMD")[-1].value)]
    commands += [s["command"] for _, s in ours(compose())]
    assert len(commands) >= 4
    for argv in commands:
        hotline_command(argv)
        assert " ".join(argv) in README, f"the README does not document `{' '.join(argv)}`"


def test_every_hotline_command_the_readme_gives_for_the_stack_is_real() -> None:
    section = README.split("## Running the stack", 1)[1].split("\n## ", 1)[0]
    # `hotline ...` where it is run: in a container, from the venv, or named in backquotes.
    found = re.findall(
        r"(?:(?<=\bapi )|(?<=hotline:latest )|(?<=\.venv/bin/)|(?<=`))"
        r"hotline ([a-z][\w-]*(?: [^\n|;&)`#><]*)?)",
        section,
    )
    assert len(found) >= 6
    for words in found:
        argv = ["hotline", *words.replace("\\", "").split()]
        hotline_command(argv)
    assert "cp docker/.env.example docker/.env" in section
    assert "docker compose -f docker/compose.yml up -d" in section


def test_every_port_is_the_one_the_command_listens_on(settings_under: Any) -> None:
    stack = compose()
    services = stack["services"]
    ports = {
        name: listening_port(s, settings_under) for name, s in ours(stack) if name != "migrate"
    }
    assert ports == {"api": 8000, "bot": 8001}
    for name, port in ports.items():
        assert services[name]["expose"] == [str(port)], name
        # Replicas cannot share a host port: the proxy is the only published one.
        assert "ports" not in services[name]
        assert services[name]["deploy"]["replicas"] >= 2
    # The bot delivers to the API where the API listens.
    bot_env = service_env(services["bot"])
    intake = urlsplit(bot_env["HOTLINE_INTAKE_URL"])
    assert (intake.hostname, intake.port) == ("api", ports["api"])
    database = urlsplit(bot_env["HOTLINE_DATABASE_URL"])
    assert (database.hostname, database.port) == ("db", 5432)
    assert service_env(services["api"])["HOTLINE_DATABASE_URL"] == bot_env["HOTLINE_DATABASE_URL"]
    # The proxy publishes what nginx listens on, and forwards to where the services listen.
    proxy = proxy_conf()
    assert {int(p.split(":")[-1]) for p in services["proxy"]["ports"]} == proxy.listen
    for variable, url in proxy.upstreams.items():
        parts = urlsplit(url)
        assert parts.hostname in ports, f"nginx ${variable} names no service of ours"
        assert parts.port == ports[parts.hostname], f"nginx ${variable}: {url}"
    # Rasa listens where compose expects it.
    (rasa_stage,) = stages(DOCKER / "Dockerfile.rasa")
    cmd = list(rasa_stage.of("CMD")[-1].value)
    assert services["rasa"]["expose"] == [cmd[cmd.index("--port") + 1]]


def test_the_proxy_sends_the_bots_paths_to_the_bot_and_the_rest_to_the_api(apps: Any) -> None:
    proxy = proxy_conf()
    for path in bot_paths(apps["bot"]):
        assert proxy.upstreams[proxy.target(path)].startswith("http://bot:"), path
    for path in apps["api"].openapi()["paths"]:
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        assert proxy.upstreams[proxy.target(concrete)].startswith("http://api:"), path
    for path in ("/docs", "/openapi.json", "/healthz"):
        assert proxy.upstreams[proxy.target(path)].startswith("http://api:")
    # No stale entry: every path sent to the bot is one the bot serves.
    for path, variable in proxy.exact.items():
        if proxy.upstreams[variable].startswith("http://bot:"):
            assert routes_to(apps["bot"], "GET", path) or routes_to(apps["bot"], "POST", path)


# ==============================================================================================
# Settings


def test_every_variable_named_is_a_setting_and_every_setting_is_in_the_template() -> None:
    real = setting_variables()
    with pytest.MonkeyPatch.context() as m:
        m.setenv(CONFIG_FILE_VARIABLE, "/etc/hotline.toml")
        assert config_file_path() == Path("/etc/hotline.toml")
    known = real | {CONFIG_FILE_VARIABLE}
    active, commented, _ = env_example()
    named = {n for n in (*active, *commented) if n.startswith("HOTLINE_")}
    assert named - known == set(), "not settings"
    assert known - named == set(), "settings missing from docker/.env.example"
    raw = COMPOSE_FILE.read_text(encoding="utf-8")
    in_compose = set(re.findall(r"\bHOTLINE_[A-Z0-9_]+", raw))
    assert in_compose - real == set(), "compose.yml names variables that are no settings"
    in_images = {
        n
        for path in (DOCKER / "Dockerfile", DOCKER / "Dockerfile.rasa")
        for stage in stages(path)
        for n in stage.env()
        if n.startswith("HOTLINE_")
    }
    assert in_images - real == set()
    # Every ${VAR} compose reads is in the template an operator copies.
    for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", raw):
        assert name in active, f"compose.yml reads ${{{name}}}, which .env.example does not set"


def test_the_template_shows_each_settings_value_in_the_stack_with_a_comment(
    settings_under: Any,
) -> None:
    _, commented, lines = env_example()
    image = image_env()
    settings, bot_settings = settings_under(image)
    # The active lines are valid values.
    settings_under({**image, **{k: v for k, v in filled_secrets().items() if "HOTLINE_" in k}})
    for name, shown in commented.items():
        if name == CONFIG_FILE_VARIABLE:
            continue
        field = name.removeprefix("HOTLINE_").lower()
        current = getattr(settings if field in Settings.model_fields else bot_settings, field)
        if shown == "":
            assert current in (None, []), f"{name}: shown unset, but its value is {current!r}"
            continue
        with_it = settings_under({**image, name: shown})
        documented = getattr(with_it[0] if field in Settings.model_fields else with_it[1], field)
        assert documented == current, f"{name}: the template shows {shown!r}, in force: {current!r}"
    # One comment line before every setting.
    for n, line in enumerate(lines):
        if re.fullmatch(r"#? ?[A-Z][A-Z0-9_]*=.*", line):
            before = lines[n - 1]
            assert before.startswith("# ") and not re.fullmatch(r"# [A-Z][A-Z0-9_]*=.*", before), (
                f"{line.split('=')[0]} has no comment"
            )


def test_settings_compose_sets_are_not_offered_in_the_template(settings_under: Any) -> None:
    """A value compose.yml's `environment` fixes would silently win over docker/.env."""
    active, commented, _ = env_example()
    raw = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    for name, service in raw["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            if variable.startswith("HOTLINE_") and f"${{{variable}" not in str(value):
                assert variable in commented and variable not in active, (
                    f"{name} sets {variable}; docker/.env must not seem to change it"
                )
    # What the stack's services end up with is valid for the settings classes.
    for _, service in ours(compose()):
        settings_under(service_env(service))


def test_the_agency_and_table_settings_in_the_template_are_json(settings_under: Any) -> None:
    _, commented, _ = env_example()
    for name in ("HOTLINE_AGENCIES", "HOTLINE_SERVICE_LEVELS_HOURS", "HOTLINE_HOTLINES"):
        json.loads(commented[name])


# ==============================================================================================
# Health checks


def health_test(stack: dict[str, Any], name: str) -> list[str] | None:
    service = stack["services"][name]
    check = service.get("healthcheck")
    if check is not None:
        return None if check.get("disable") else list(check["test"])
    if service.get("image") == OUR_IMAGE:
        return ["CMD", *stages(DOCKER / "Dockerfile")[-1].of("HEALTHCHECK")[-1].value[1:]]
    return None


def test_every_health_check_names_a_program_and_route_that_exist(
    apps: Any, settings_under: Any
) -> None:
    stack = compose()
    final = stages(DOCKER / "Dockerfile")[-1]
    copied_script = {c.value[-1] for c in final.of("COPY") if c.value[0] == "docker/healthcheck.py"}
    checked = set()
    for name, service in stack["services"].items():
        test = health_test(stack, name)
        if test is None:
            assert name == "migrate", f"{name} has no health check"
            continue
        assert test[0] == "CMD", f"{name}: exec form, so no shell is needed"
        program, *args = test[1:]
        if service.get("image") == OUR_IMAGE:
            assert program == "python" and args[0] in copied_script, name
            url = urlsplit(args[1])
            assert url.hostname == "127.0.0.1"
            assert url.port == listening_port(service, settings_under), name
            served = apps[name]
            assert routes_to(served, "GET", url.path), f"{name} serves no {url.path}"
        elif name == "rasa":
            assert program == "python"
            url = urlsplit(re.search(r"http://[^'\"]+", args[-1])[0])  # type: ignore[index]
            assert url.port == int(service["expose"][0]) and url.path in RASA_ROUTES
        else:
            assert program in THIRD_PARTY_BINARIES[service["image"]], f"{name}: {program}"
            if program == "wget":
                url = urlsplit(args[-1])
                assert url.port in proxy_conf().listen
                proxy = proxy_conf()
                assert proxy.upstreams[proxy.target(url.path)].startswith("http://api:")
                assert routes_to(apps["api"], "GET", url.path)
        checked.add(name)
    assert checked == {"db", "api", "bot", "proxy", "rasa"}
    # The image's own check, for `docker run hotline` (the API on the default port).
    image_check = final.of("HEALTHCHECK")[-1].value
    url = urlsplit(image_check[-1])
    assert url.port == settings_under(image_env())[0].port
    assert routes_to(apps["api"], "GET", url.path)


def test_the_database_health_check_runs_against_a_real_postgresql() -> None:
    pg_isready = shutil.which("pg_isready")
    if pg_isready is None:
        pytest.skip("pg_isready is not installed here (apt-get install postgresql-client)")
    test = compose()["services"]["db"]["healthcheck"]["test"]
    # The same program and options, pointed at this machine's server instead of the container.
    answer = subprocess.run(
        [pg_isready, *test[2:], "-h", "127.0.0.1", "-p", "5432"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if answer.returncode == 2:
        pytest.skip(f"no PostgreSQL server answers on 127.0.0.1:5432: {answer.stdout}")
    assert answer.returncode == 0, answer.stdout + answer.stderr


def test_the_health_check_script_fails_when_the_service_or_its_database_is_down(
    apps: Any, tmp_path: Path
) -> None:
    from sqlalchemy import create_engine

    from intake_api.app import create_app
    from tests.intake_api.conftest import make_settings
    from tests.local_http import ServedApp

    script = DOCKER / "healthcheck.py"

    def check(url: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), url], capture_output=True, text=True, timeout=30
        )

    served = ServedApp(apps["api"]).start()
    try:
        assert check(f"{served.url}/healthz").returncode == 0
        missing = check(f"{served.url}/no-such-route")
        assert missing.returncode == 1 and "404" in missing.stderr
    finally:
        served.stop()
    down = check(f"{served.url}/healthz")
    assert down.returncode == 1 and "does not answer" in down.stderr
    # The API is up, its database is not: /healthz says 503, and the check fails.
    broken = create_engine("sqlite:////nonexistent-dir/hotline.db")
    sick = ServedApp(create_app(make_settings(tmp_path), broken)).start()
    try:
        unhealthy = check(f"{sick.url}/healthz")
        assert unhealthy.returncode == 1 and "503" in unhealthy.stderr
    finally:
        sick.stop()
