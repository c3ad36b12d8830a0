"""Static checks of the deployment files: Dockerfile, compose files, systemd unit, nginx snippet.

No Docker engine is involved. The files are parsed (PyYAML with Compose's merge tags, and small
parsers here for the Dockerfile, the systemd unit and nginx), then checked against each other and
against the gateway's real settings.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from voxtral_gateway.settings import SETTING_NAMES, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "compose.yaml"
COMPOSE_CPU = ROOT / "compose.cpu.yaml"
SYSTEMD_UNIT = ROOT / "deploy" / "voxtral-gateway.service"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"

DEFAULTS = Settings()
MIB = 1024 * 1024

# Environment variables the compose files may set for the gateway before the setting exists:
# other work in progress adds them. Move a name out of here once it is a field of Settings.
PLANNED_SETTINGS = {
    "REDIS_URL",  # Redis for rate limits and shared state (being added)
    "VOXTRAL_BACKENDS",  # several vLLM servers (being added)
}


# --- Compose: YAML with !reset / !override, the merge rules, ${VAR:-default} ---------------------------


@dataclass
class Reset:
    value: Any


@dataclass
class Override:
    value: Any


class ComposeLoader(yaml.SafeLoader):
    """SafeLoader that also reads Compose's `!reset` and `!override` tags."""


def _tagged(kind: type[Reset] | type[Override]):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Reset | Override:
        if isinstance(node, yaml.MappingNode):
            return kind(loader.construct_mapping(node, deep=True))
        if isinstance(node, yaml.SequenceNode):
            return kind(loader.construct_sequence(node, deep=True))
        scalar = loader.construct_scalar(node)
        return kind(None if scalar in ("", "null", "~") else scalar)

    return construct


ComposeLoader.add_constructor("!reset", _tagged(Reset))
ComposeLoader.add_constructor("!override", _tagged(Override))

# Sequences Compose replaces rather than appends to when merging.
_REPLACED_SEQUENCES = {"command", "entrypoint", "test"}


def _untag(value: Any) -> Any:
    if isinstance(value, Reset):
        return None
    if isinstance(value, Override):
        return _untag(value.value)
    if isinstance(value, dict):
        return {key: _untag(item) for key, item in value.items() if not isinstance(item, Reset)}
    if isinstance(value, list):
        return [_untag(item) for item in value]
    return value


def compose_merge(base: Any, override: Any, key: str | None = None) -> Any:
    """The part of Compose's merge rules these files use (compose-spec 13-merge.md)."""
    if isinstance(override, Override):
        return _untag(override.value)
    if isinstance(override, Reset):
        return None
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for name, value in override.items():
            if isinstance(value, Reset):
                merged.pop(name, None)
            elif name in merged:
                merged[name] = compose_merge(merged[name], value, name)
            else:
                merged[name] = _untag(value)
        return merged
    if isinstance(base, list) and isinstance(override, list) and key not in _REPLACED_SEQUENCES:
        return base + [item for item in _untag(override) if item not in base]
    return _untag(override)


def load_compose(*paths: Path) -> dict[str, Any]:
    model: dict[str, Any] = {}
    for path in paths:
        document = yaml.load(path.read_text(), Loader=ComposeLoader)
        model = compose_merge(model, document)
    return model


_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<default>[^}]*))?\}|\$(?P<bare>\w+)")


def interpolate(value: str, environ: dict[str, str] | None = None) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `$$`, against `environ`."""
    environ = environ or {}

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, default = match.group("op"), match.group("default") or ""
        current = environ.get(name)
        if op == ":-" and not current:
            return default
        if op == "-" and current is None:
            return default
        return current or ""

    return _VARIABLE.sub(replace, value)


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, None) for item in raw)
    return {name: None if value is None else str(value) for name, value in raw.items()}


def depends_on_of(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return {name: {"condition": "service_started"} for name in raw}
    return raw


def active_services(model: dict[str, Any]) -> set[str]:
    """Services `docker compose up` starts when no profile is enabled."""
    return {name for name, service in model["services"].items() if not service.get("profiles")}


def duration_seconds(text: str) -> float:
    """A Compose (Go) duration such as `600s`, `1m30s`, `10m`."""
    units = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", str(text))
    assert parts and "".join(n + u for n, u in parts) == str(text), f"not a duration: {text!r}"
    return sum(float(number) * units[unit] for number, unit in parts)


def image_tag(image: str) -> str | None:
    """`redis:7.4-alpine` -> `7.4-alpine`; a registry port (`host:5000/name`) is not a tag."""
    return image.split("@")[0].split("/")[-1].partition(":")[2] or None


def argv_of(command: Any) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(item) for item in command]


def flags_of(argv: list[str]) -> dict[str, str]:
    """`--name value` and `--name=value` pairs (names with `-` or `_`, as vLLM accepts both)."""
    flags: dict[str, str] = {}
    index = 0
    while index < len(argv):
        item = argv[index]
        if item.startswith("--"):
            name, separator, value = item[2:].partition("=")
            if not separator and index + 1 < len(argv) and not argv[index + 1].startswith("--"):
                value = argv[index + 1]
                index += 1
            flags[name.replace("-", "_")] = value
        index += 1
    return flags


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose(COMPOSE)


@pytest.fixture(scope="module")
def compose_cpu() -> dict[str, Any]:
    return load_compose(COMPOSE, COMPOSE_CPU)


@pytest.fixture(scope="module")
def gateway_env(compose: dict[str, Any]) -> dict[str, str]:
    return {k: interpolate(v) for k, v in environment_of(compose["services"]["gateway"]).items() if v}


@pytest.fixture(scope="module")
def vllm_flags(compose: dict[str, Any]) -> dict[str, str]:
    return flags_of(argv_of(compose["services"]["vllm"]["command"]))


def test_compose_files_use_the_compose_spec(compose: dict[str, Any]):
    for path in (COMPOSE, COMPOSE_CPU):
        assert "version" not in yaml.load(path.read_text(), Loader=ComposeLoader), path.name
    assert {"gateway", "redis", "vllm"} <= set(compose["services"])


def test_images_are_pinned_never_latest(compose: dict[str, Any]):
    for name, service in compose["services"].items():
        image = service.get("image")
        if image is None:
            assert "build" in service, f"{name} has neither image nor build"
            continue
        tag = image_tag(image)
        assert tag and not tag.startswith("latest"), f"{name}: {image} is not pinned"
    assert re.fullmatch(r"redis:7\.\d+(\.\d+)?-alpine", compose["services"]["redis"]["image"])


def test_vllm_image_is_a_pinned_release_with_the_matching_audio_extra(compose: dict[str, Any]):
    """The official image leaves out `vllm[audio]`, which transcription needs; it must match the base.
    Compose builds the same Dockerfile as Kubernetes, and tags it the same."""
    vllm = compose["services"]["vllm"]
    dockerfile_path = ROOT / vllm["build"]["context"] / vllm["build"]["dockerfile"]
    assert dockerfile_path == ROOT / "deploy" / "kubernetes" / "images" / "vllm-audio.Dockerfile"
    dockerfile = dockerfile_path.read_text()
    base = re.search(r"^FROM\s+vllm/vllm-openai:v(\d+\.\d+\.\d+(?:\.\d+)?)\s*$", dockerfile, re.M)
    assert base, "the vllm image must be built FROM vllm/vllm-openai:v<release>"
    version = base.group(1)
    assert tuple(int(part) for part in version.split(".")[:2]) >= (0, 10), "Voxtral needs vLLM >= 0.10"
    extra = re.search(r"vllm\[(?P<extras>[\w,]+)\]==(?P<version>[\d.]+)", dockerfile)
    assert extra and "audio" in extra.group("extras").split(",")
    assert extra.group("version") == version
    assert vllm["image"] == f"voxtral-gateway/vllm-audio:{version}"


def test_vllm_serves_voxtral_with_the_mistral_formats(
    compose: dict[str, Any], vllm_flags: dict[str, str], gateway_env: dict[str, str]
):
    assert vllm_flags["model"] == "mistralai/Voxtral-Mini-3B-2507"
    # The gateway asks vLLM for the model it serves.
    assert gateway_env.get("VOXTRAL_MODEL", DEFAULTS.vllm.model) == vllm_flags["model"]
    for flag in ("tokenizer_mode", "config_format", "load_format"):
        assert vllm_flags[flag] == "mistral", flag
    assert vllm_flags["host"] == "0.0.0.0"
    assert vllm_flags["port"] == "8000"


def test_vllm_container_settings(compose: dict[str, Any], gateway_env: dict[str, str]):
    vllm = compose["services"]["vllm"]
    assert vllm["ipc"] == "host"
    assert "hf-cache:/root/.cache/huggingface" in vllm["volumes"]
    assert "hf-cache" in compose["volumes"]
    env = environment_of(vllm)
    assert re.fullmatch(r"\$\{HF_TOKEN(:?-[^}]*)?\}", env["HF_TOKEN"]), "HF_TOKEN comes from the host"
    # Every audio the gateway sends (16 kHz mono 16-bit WAV) fits vLLM's per-file cap, which applies to
    # chat audio too: a transcription segment (VOXTRAL_MAX_AUDIO_SECONDS) and one understanding audio,
    # which may be as long as UNDERSTANDING_MAX_TOTAL_SECONDS. vLLM reads the cap with int().
    segment = float(gateway_env.get("VOXTRAL_MAX_AUDIO_SECONDS", DEFAULTS.vllm.max_audio_seconds))
    understanding = float(
        gateway_env.get("UNDERSTANDING_MAX_TOTAL_SECONDS", DEFAULTS.limits.understanding_max_total_seconds)
    )
    longest = max(segment, understanding)
    wav_mib = (44 + longest * 16_000 * 2) / MIB
    assert env["VLLM_MAX_AUDIO_CLIP_FILESIZE_MB"].isdigit(), "vLLM parses it as an integer"
    assert int(env["VLLM_MAX_AUDIO_CLIP_FILESIZE_MB"]) >= max(wav_mib, 25)
    assert int(env["VLLM_MAX_AUDIO_DECODE_DURATION_S"]) >= longest
    # The gateway lets idle connections go before vLLM closes them (VLLM_HTTP_TIMEOUT_KEEP_ALIVE).
    vllm_keepalive = float(env.get("VLLM_HTTP_TIMEOUT_KEEP_ALIVE") or 5)
    gateway_keepalive = float(gateway_env.get("VOXTRAL_KEEPALIVE_SECONDS", DEFAULTS.vllm.keepalive_seconds))
    assert gateway_keepalive < vllm_keepalive


def test_vllm_reserves_an_nvidia_gpu(compose: dict[str, Any]):
    devices = compose["services"]["vllm"]["deploy"]["resources"]["reservations"]["devices"]
    assert len(devices) == 1
    device = devices[0]
    assert device["driver"] == "nvidia"
    assert device.get("count") in (1, "all") or device.get("device_ids")
    assert "gpu" in device["capabilities"]


def test_every_service_has_a_health_check(compose: dict[str, Any]):
    for name, service in compose["services"].items():
        check = service.get("healthcheck")
        assert check and not check.get("disable"), name
        test = argv_of(check["test"])
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name
    vllm_check = compose["services"]["vllm"]["healthcheck"]
    assert "127.0.0.1:8000/health" in " ".join(argv_of(vllm_check["test"]))
    assert duration_seconds(vllm_check["start_period"]) >= 300, "vLLM downloads and loads the model first"
    assert "/health/" in " ".join(argv_of(compose["services"]["gateway"]["healthcheck"]["test"]))
    assert argv_of(compose["services"]["redis"]["healthcheck"]["test"])[1:] == ["redis-cli", "ping"]


def named_volume_at(model: dict[str, Any], service: str, path: str) -> str:
    """The named volume (declared at the top level, not a bind mount) mounted at `path` in `service`."""
    for mount in model["services"][service].get("volumes") or []:
        if isinstance(mount, dict):
            kind, source, target = mount.get("type", "volume"), mount.get("source", ""), mount["target"]
        else:
            source, _, rest = str(mount).partition(":")
            target, kind = rest.partition(":")[0], "volume"
        if target.rstrip("/") == path.rstrip("/"):
            assert kind == "volume" and source in (model.get("volumes") or {}), f"{service}: {mount!r}"
            return source
    raise AssertionError(f"{service} has no volume at {path}")


@pytest.mark.parametrize("files", [(COMPOSE,), (COMPOSE, COMPOSE_CPU)], ids=["gpu", "cpu"])
def test_redis_keeps_the_jobs_in_an_append_only_file_on_a_named_volume(files):
    """Queued jobs live in Redis: a restart of its container must not lose them."""
    model = load_compose(*files)
    flags = flags_of(argv_of(model["services"]["redis"]["command"]))
    assert flags["appendonly"] == "yes"
    assert flags["appendfsync"] in ("everysec", "always"), "at most a second lost"
    assert flags.get("maxmemory_policy", "noeviction") == "noeviction", "state is refused, never dropped"
    named_volume_at(model, "redis", flags.get("dir", "/data"))


@pytest.mark.parametrize("files", [(COMPOSE,), (COMPOSE, COMPOSE_CPU)], ids=["gpu", "cpu"])
def test_job_uploads_are_kept_on_a_named_volume_the_gateway_user_owns(files, monkeypatch, tmp_path):
    model = load_compose(*files)
    env = {k: interpolate(v) for k, v in environment_of(model["services"]["gateway"]).items() if v}
    monkeypatch.chdir(tmp_path)
    blob_dir = load_settings(env).jobs.blob_dir
    assert blob_dir.startswith("/"), "relative to /app, which the gateway user cannot write"
    named_volume_at(model, "gateway", blob_dir)
    # A new named volume takes the owner of the image's directory: the image's user must own it.
    final = final_stage(parse_dockerfile(DOCKERFILE.read_text()))
    user = final.all("USER")[-1].split(":")[0]
    assert any(
        f"mkdir -p {blob_dir}" in run and re.search(rf"chown (-R )?{user}(:\d+)? ", run)
        for run in final.all("RUN")
    ), f"the image must create {blob_dir} owned by {user}"


def test_gateway_waits_for_healthy_redis_and_vllm(compose: dict[str, Any]):
    gateway = compose["services"]["gateway"]
    depends = depends_on_of(gateway)
    assert set(depends) == {"redis", "vllm"}
    assert all(spec["condition"] == "service_healthy" for spec in depends.values())
    assert gateway.get("restart") in ("always", "unless-stopped", "on-failure")
    assert gateway["build"] in (".", {"context": "."}) or gateway["build"].get("context") == "."


def test_gateway_reaches_the_other_services(
    compose: dict[str, Any], gateway_env: dict[str, str], vllm_flags: dict[str, str]
):
    assert gateway_env["VOXTRAL_HOST"] == "vllm" and "vllm" in compose["services"]
    assert gateway_env["VOXTRAL_PORT"] == vllm_flags["port"]
    redis_url = urlparse(gateway_env["REDIS_URL"])
    assert redis_url.scheme == "redis"
    assert redis_url.hostname == "redis" and "redis" in compose["services"]
    assert (redis_url.port or 6379) == 6379 and "--port" not in argv_of(
        compose["services"]["redis"]["command"]
    )
    assert float(gateway_env["VOXTRAL_MAX_AUDIO_SECONDS"]) == 600
    assert environment_of(compose["services"]["gateway"])["WORKERS"] == "${GATEWAY_WORKERS:-2}"


def test_gateway_port_matches_the_server_and_the_image(compose: dict[str, Any], gateway_env: dict[str, str]):
    port = int(gateway_env.get("PORT", DEFAULTS.server.port))
    published = [str(item) for item in compose["services"]["gateway"]["ports"]]
    assert f"8080:{port}" in published
    assert str(port) in final_stage(parse_dockerfile(DOCKERFILE.read_text())).all("EXPOSE")


@pytest.mark.parametrize(("files", "backend"), [((COMPOSE,), "vllm"), ((COMPOSE, COMPOSE_CPU), "embedded")])
def test_gateway_environment_is_made_of_real_settings(files, backend, monkeypatch, tmp_path):
    model = load_compose(*files)
    env = {k: interpolate(v) for k, v in environment_of(model["services"]["gateway"]).items() if v}
    known = {name.upper() for name in SETTING_NAMES}
    unknown = sorted(set(env) - known - PLANNED_SETTINGS)
    assert not unknown, f"not settings of the gateway: {unknown}"
    monkeypatch.chdir(tmp_path)  # no config/gateway.toml from the working tree
    settings = load_settings(env)
    assert settings.resolved_backend == backend
    assert settings.server.workers == 2
    if backend == "vllm":
        assert settings.vllm.base_url == "http://vllm:8000"


def test_cpu_variant_runs_embedded_without_vllm(compose_cpu: dict[str, Any]):
    gateway = compose_cpu["services"]["gateway"]
    env = environment_of(gateway)
    assert env["BACKEND"] == "embedded"
    assert "VOXTRAL_HOST" not in env
    assert depends_on_of(gateway) == {"redis": {"condition": "service_healthy"}}
    started = active_services(compose_cpu)
    assert started == {"gateway", "redis"}, "vLLM must not start (nor be built) without a GPU"
    # Compose refuses a started service that depends on one that is not started.
    for name in started:
        assert set(depends_on_of(compose_cpu["services"][name])) <= started, name


def test_cpu_override_replaces_depends_on_instead_of_merging():
    """Without `!override`, Compose would merge depends_on and keep waiting for vllm."""
    raw = yaml.load(COMPOSE_CPU.read_text(), Loader=ComposeLoader)
    depends = raw["services"]["gateway"].get("depends_on")
    assert isinstance(depends, (Override, Reset))


# --- Dockerfile -------------------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    args: str


@dataclass
class Stage:
    base: str
    name: str | None
    index: int
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [item.args for item in self.instructions if item.keyword == keyword]

    def position(self, keyword: str) -> int:
        return max(i for i, item in enumerate(self.instructions) if item.keyword == keyword)


def dockerfile_lines(text: str) -> list[Instruction]:
    """Logical instructions: continuation lines joined, comments (also inside continuations) dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical = (pending + line).strip()
        pending = ""
        keyword, _, args = logical.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continuation"
    return instructions


def parse_dockerfile(text: str) -> list[Stage]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction in dockerfile_lines(text):
        if instruction.keyword == "ARG" and not stages:
            name, _, default = instruction.args.partition("=")
            global_args[name] = default.strip("\"'")
        elif instruction.keyword == "FROM":
            words = [w for w in instruction.args.split() if not w.startswith("--platform")]
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=base, name=name, index=len(stages)))
        else:
            assert stages, f"{instruction.keyword} before the first FROM"
            stages[-1].instructions.append(instruction)
    return stages


def final_stage(stages: list[Stage]) -> Stage:
    return stages[-1]


def copy_from(args: str) -> str | None:
    match = re.search(r"--from=(\S+)", args)
    return match.group(1) if match else None


def env_pairs(args: str) -> dict[str, str]:
    words = shlex.split(args)
    if len(words) >= 2 and "=" not in words[0]:  # legacy `ENV NAME value`
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())


def test_dockerfile_is_multi_stage_on_a_pinned_slim_python(stages: list[Stage]):
    assert len(stages) >= 2
    final = final_stage(stages)
    match = re.fullmatch(r"python:(3)\.(\d+)\.(\d+)-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", final.base)
    assert match, f"final base {final.base!r} is not a version-pinned python slim image"
    pyproject = (ROOT / "pyproject.toml").read_text()
    minimum = re.search(r'requires-python\s*=\s*">=\s*3\.(\d+)"', pyproject)
    assert minimum and int(match.group(2)) >= int(minimum.group(1))


def test_venv_is_copied_from_a_stage_on_the_same_python(stages: list[Stage]):
    final = final_stage(stages)
    venv_copies = [args for args in final.all("COPY") if "/opt/venv" in args]
    assert venv_copies, "the final stage copies /opt/venv from the builder"
    source = next(
        s for s in stages if s.name == copy_from(venv_copies[0]) or str(s.index) == copy_from(venv_copies[0])
    )
    assert source.base == final.base, "a venv only works on the interpreter it was made with"
    assert any(re.search(r"\bpip install\b.*\s\.(\s|$)", run) for run in source.all("RUN")), "pip install ."
    assert any("venv /opt/venv" in run for run in source.all("RUN"))


def test_every_copy_from_names_an_earlier_stage(stages: list[Stage]):
    for position, stage in enumerate(stages):
        earlier = {s.name for s in stages[:position]} | {str(s.index) for s in stages[:position]}
        for args in stage.all("COPY") + stage.all("ADD"):
            source = copy_from(args)
            if source is not None:
                assert source in earlier, f"COPY --from={source} in stage {stage.name or position}"


def test_build_context_files_exist_and_are_not_ignored(stages: list[Stage]):
    ignored = [
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for stage in stages:
        for args in stage.all("COPY"):
            if copy_from(args) is not None:
                continue
            sources = [word for word in shlex.split(args) if not word.startswith("--")][:-1]
            for source in sources:
                assert (ROOT / source).exists(), source
                top = source.strip("./").split("/")[0]
                assert top not in ignored, f"{source} is needed by the build but .dockerignore drops it"


def test_dockerignore_excludes_local_state():
    entries = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text().splitlines()}
    for required in (".venv", ".git", "tests/.fixture-cache", "benchmarks/.cache"):
        assert required in entries, required
    assert {"__pycache__", "**/__pycache__"} & entries


def test_final_stage_runs_as_non_root_with_a_health_check(stages: list[Stage]):
    final = final_stage(stages)
    users = final.all("USER")
    assert users, "the final stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users[-1]
    assert final.position("USER") < final.position("CMD")
    health = final.all("HEALTHCHECK")
    assert health and health[-1].upper() != "NONE"
    assert "urllib" in health[-1] and "/health/" in health[-1] and "curl" not in health[-1]
    assert "8080" in final.all("EXPOSE")


def test_cmd_and_entrypoint_use_exec_form(stages: list[Stage]):
    final = final_stage(stages)
    for keyword in ("CMD", "ENTRYPOINT"):
        for args in final.all(keyword):
            argv = json.loads(args)
            assert isinstance(argv, list) and all(isinstance(item, str) for item in argv), keyword
    assert json.loads(final.all("CMD")[-1]) == ["python", "run_server.py"]
    assert not final.all("ENTRYPOINT")


def test_final_stage_has_no_compilers_and_the_app(stages: list[Stage]):
    final = final_stage(stages)
    compilers = re.compile(r"\b(build-essential|gcc|g\+\+|clang|cc|make|cmake|python3?-dev)\b")
    for run in final.all("RUN"):
        if re.search(r"\b(apt-get|apt|apk)\b.*\b(install|add)\b", run):
            assert not compilers.search(run), run
    assert final.base not in {stage.name for stage in stages}, "the final stage must not extend the builder"
    copied = " ".join(final.all("COPY"))
    assert "run_server.py" in copied and "config/" in copied
    env: dict[str, str] = {}
    for args in final.all("ENV"):
        env.update(env_pairs(args))
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert env["PYTHONUNBUFFERED"] == "1"


# --- systemd unit --------------------------------------------------------------------------------------


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """systemd's INI dialect: repeated keys allowed, `#`/`;` comments, `\\` continuations."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None and "=" in line, f"not a key=value line in a section: {line!r}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def timespan_seconds(text: str) -> float:
    units = {"ms": 1e-3, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
    parts = re.findall(r"(\d+)\s*(ms|sec|s|min|m|h)?", text)
    return sum(float(number) * units[unit or "s"] for number, unit in parts)


def test_systemd_unit_runs_run_server_gracefully():
    unit = parse_unit(SYSTEMD_UNIT.read_text())
    assert {"Unit", "Service", "Install"} <= set(unit)
    service = unit["Service"]
    (exec_start,) = service["ExecStart"]
    argv = shlex.split(exec_start)
    assert argv == ["/opt/voxtral-gateway/.venv/bin/python", "run_server.py"]
    assert service["WorkingDirectory"] == ["/opt/voxtral-gateway"]
    assert (ROOT / argv[1]).is_file()
    assert "-/etc/voxtral-gateway.env" in service["EnvironmentFile"]
    assert service["User"][-1] not in ("root", "0")
    assert service["Restart"] == ["on-failure"]
    assert service["KillSignal"] == ["SIGTERM"]
    assert timespan_seconds(service["TimeoutStopSec"][-1]) >= 10
    assert service["NoNewPrivileges"] == ["yes"]
    assert service["ProtectSystem"][-1] in ("strict", "full")
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


# --- nginx ---------------------------------------------------------------------------------------------


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None

    def children(self, name: str) -> list[Directive]:
        return [item for item in self.block or [] if item.name == name]


_NGINX_TOKEN = re.compile(r"#[^\n]*|'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"|([{};])|([^\s{};'\"#]+)")


def parse_nginx(text: str) -> list[Directive]:
    root: list[Directive] = []
    stack: list[list[Directive]] = [root]
    words: list[str] = []
    for match in _NGINX_TOKEN.finditer(text):
        single, double, punct, word = match.groups()
        if match.group(0).startswith("#"):
            continue
        if punct == ";":
            assert words, "empty directive"
            stack[-1].append(Directive(words[0], words[1:]))
            words = []
        elif punct == "{":
            directive = Directive(words[0], words[1:], [])
            stack[-1].append(directive)
            stack.append(directive.block)
            words = []
        elif punct == "}":
            assert not words and len(stack) > 1, "unbalanced braces"
            stack.pop()
        else:
            words.append(word if word is not None else (single if single is not None else double))
    assert len(stack) == 1 and not words, "unbalanced braces or a missing semicolon"
    return root


def size_bytes(text: str) -> int:
    match = re.fullmatch(r"(\d+)([kKmMgG]?)", text)
    assert match, text
    return int(match.group(1)) * {"": 1, "k": 1024, "m": MIB, "g": 1024 * MIB}[match.group(2).lower()]


def effective(location: Directive, server: Directive, name: str) -> list[list[str]]:
    """nginx inheritance: a location's own directives replace the server's entirely."""
    own = [d.args for d in location.children(name)]
    return own or [d.args for d in server.children(name)]


@pytest.fixture(scope="module")
def nginx() -> list[Directive]:
    return parse_nginx(NGINX_CONF.read_text())


def test_nginx_proxies_to_the_gateway_with_room_for_large_uploads(nginx: list[Directive]):
    (upstream,) = [d for d in nginx if d.name == "upstream"]
    assert upstream.children("server")[0].args[0] == "127.0.0.1:8080"
    (server,) = [d for d in nginx if d.name == "server"]
    (body,) = server.children("client_max_body_size")
    assert body.args == ["140m"]
    # Base64 of MAX_FILE_SIZE_MB of audio, plus the JSON around it, fits.
    assert size_bytes(body.args[0]) >= math.ceil(DEFAULTS.limits.max_file_size_bytes * 4 / 3)
    locations = {d.args[-1]: d for d in server.children("location")}
    assert "/" in locations and "/stream/" in locations
    for path, location in locations.items():
        if not location.children("proxy_pass"):
            continue
        assert location.children("proxy_pass")[0].args == [f"http://{upstream.args[0]}"], path
        headers = {args[0].lower(): args[1] for args in effective(location, server, "proxy_set_header")}
        assert headers.get("x-forwarded-for") == "$proxy_add_x_forwarded_for", path
        assert "x-request-id" in headers, path
    root = locations["/"]
    read_timeout = effective(root, server, "proxy_read_timeout")[-1][0]
    assert timespan_seconds(read_timeout) >= DEFAULTS.timeouts.total_seconds
    assert effective(root, server, "proxy_buffering") == [["off"]], "SSE must not be buffered"


def test_nginx_upgrades_websockets_on_stream(nginx: list[Directive]):
    maps = {d.args[1]: d for d in nginx if d.name == "map"}
    (server,) = [d for d in nginx if d.name == "server"]
    stream = next(d for d in server.children("location") if d.args[-1] == "/stream/")
    assert effective(stream, server, "proxy_http_version") == [["1.1"]]
    headers = {args[0].lower(): args[1] for args in effective(stream, server, "proxy_set_header")}
    assert headers["upgrade"] == "$http_upgrade"
    connection = headers["connection"]
    assert connection in maps and maps[connection].args[0] == "$http_upgrade"
    entries = {d.name: d.args for d in maps[connection].block or []}
    assert entries["default"] == ["upgrade"]
    request_id = headers["x-request-id"]
    assert (
        request_id in ("$http_x_request_id", "$request_id")
        or maps[request_id].args[0] == "$http_x_request_id"
    )
