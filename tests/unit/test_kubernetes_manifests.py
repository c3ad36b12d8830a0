"""Offline checks of deploy/kubernetes: each variant renders with `kubectl kustomize`, validates against
the Kubernetes schemas (kubernetes-validate ships them), and its objects agree with each other and with
the gateway: probes, shutdown, security, selectors, the keys Secret, the settings, the Ingress routes.

No cluster is involved. Only a machine without kubectl skips (kustomize is built into kubectl)."""

from __future__ import annotations

import base64
import http.server
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

import kubernetes_validate
import pytest
import yaml

from voxtral_gateway.app import base64_body_limit, create_app
from voxtral_gateway.auth import read_keys_file
from voxtral_gateway.observability.multiprocess_dir import MULTIPROC_DIR_VARIABLE
from voxtral_gateway.settings import MIB, SETTING_NAMES, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
BASE = KUBERNETES / "base"
CPU = KUBERNETES / "overlays" / "cpu"
VARIANTS = {"base": BASE, "cpu": CPU}
NAMESPACE = "voxtral-gateway"
VLLM_VERSION = "0.33.0"

# The oldest Kubernetes these manifests are meant for (PodDisruptionBudget's unhealthyPodEvictionPolicy,
# matchLabelKeys-free topology spread, autoscaling/v2 behavior) and a recent one; both ship with
# kubernetes-validate. Strict: an unknown (misspelt) field fails too.
KUBERNETES_VERSIONS = ("1.30.0", "1.34.0")

Doc = dict[str, Any]

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl (with kustomize built in) is not installed")


# --- rendering -------------------------------------------------------------------------------------------

_rendered: dict[str, list[Doc]] = {}


def render(variant: str) -> list[Doc]:
    if variant not in _rendered:
        result = subprocess.run(
            [KUBECTL or "kubectl", "kustomize", str(VARIANTS[variant])],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"kubectl kustomize {variant} failed:\n{result.stderr}"
        _rendered[variant] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return _rendered[variant]


@pytest.fixture(params=sorted(VARIANTS), scope="module")
def variant(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def docs(variant: str) -> list[Doc]:
    return render(variant)


def find_all(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def find(docs: list[Doc], kind: str, name: str) -> Doc:
    (found,) = [doc for doc in find_all(docs, kind) if doc["metadata"]["name"] == name]
    return found


def generated(docs: list[Doc], kind: str, name: str) -> Doc:
    """A configMapGenerator/secretGenerator object: its name carries a content hash."""
    (found,) = [
        doc
        for doc in find_all(docs, kind)
        if re.fullmatch(rf"{name}-[a-z0-9]{{10}}", doc["metadata"]["name"])
    ]
    return found


WORKLOAD_KINDS = ("Deployment", "StatefulSet")


def workloads(docs: list[Doc]) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] in WORKLOAD_KINDS]


def workload_named(docs: list[Doc], name: str) -> Doc:
    (found,) = [w for w in workloads(docs) if w["metadata"]["name"] == name]
    return found


def pod_spec(workload: Doc) -> Doc:
    return workload["spec"]["template"]["spec"]


def pod_labels(workload: Doc) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]


def container(workload: Doc, name: str) -> Doc:
    (found,) = [c for c in pod_spec(workload)["containers"] if c["name"] == name]
    return found


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels, and matchExpressions with In/NotIn/Exists/DoesNotExist)."""
    if not all(labels.get(key) == value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        ok = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]
        if not ok:
            return False
    return True


def selected_workloads(docs: list[Doc], selector: Doc) -> list[str]:
    return sorted(w["metadata"]["name"] for w in workloads(docs) if selects(selector, pod_labels(w)))


def container_port(workload: Doc, port: int | str) -> int:
    """A port of the pod's containers, by number or name."""
    for item in pod_spec(workload)["containers"]:
        for declared in item.get("ports", []):
            if port in (declared["containerPort"], declared.get("name")):
                return declared["containerPort"]
    raise AssertionError(f"{workload['metadata']['name']} has no container port {port!r}")


def gateway(docs: list[Doc]) -> Doc:
    return find(docs, "Deployment", "voxtral-gateway")


def gateway_environment(docs: list[Doc]) -> dict[str, str]:
    """The gateway container's environment as the kubelet builds it: envFrom ConfigMaps, then env."""
    main = container(gateway(docs), "gateway")
    environment: dict[str, str] = {}
    for source in main.get("envFrom", []):
        assert "configMapRef" in source, "settings come from ConfigMaps"
        environment.update(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    for item in main.get("env", []):
        assert "value" in item, item["name"]
        environment[item["name"]] = item["value"]
    return environment


def gateway_settings(docs: list[Doc], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)  # no config/gateway.toml from the working tree
    return load_settings(gateway_environment(docs))


# --- rendering and schemas -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_renders_and_validates_against_the_kubernetes_schemas(docs: list[Doc], version: str):
    assert docs, "nothing rendered"
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.caught.path)
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} at {path}: {exc.caught.message}")


def test_the_schema_validation_catches_a_misspelt_field():
    deployment = yaml.safe_load(yaml.safe_dump(gateway(render("base"))))
    container(deployment, "gateway")["readinesProbe"] = {"httpGet": {"path": "/health/", "port": "http"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_every_object_is_labelled_and_in_the_namespace(docs: list[Doc]):
    kinds = {doc["kind"] for doc in docs}
    required = {"Namespace", "ConfigMap", "Secret", "Deployment", "StatefulSet", "Service"}
    required |= {"HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress", "NetworkPolicy"}
    assert required <= kinds, sorted(required - kinds)
    for doc in docs:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == NAMESPACE, name
        if doc["kind"] == "Namespace":
            assert doc["metadata"]["name"] == NAMESPACE
        else:
            assert doc["metadata"].get("namespace") == NAMESPACE, name


def test_workload_selectors_match_their_own_pods_only(docs: list[Doc]):
    for workload in workloads(docs):
        selector = workload["spec"]["selector"]
        assert selector["matchLabels"]["app.kubernetes.io/part-of"] == NAMESPACE
        assert selected_workloads(docs, selector) == [workload["metadata"]["name"]]


def test_every_pod_keeps_service_links_and_the_api_token_out(docs: list[Doc]):
    """Service links would set e.g. VLLM_PORT=tcp://... in vLLM's pod (a Service named `vllm`), which
    vLLM reads as its own integer setting; a Service named `voxtral` would do the same to the gateway."""
    for workload in workloads(docs):
        spec = pod_spec(workload)
        assert spec.get("enableServiceLinks") is False, workload["metadata"]["name"]
        assert spec.get("automountServiceAccountToken") is False, workload["metadata"]["name"]


def test_images_are_pinned(docs: list[Doc]):
    for workload in workloads(docs):
        for item in pod_spec(workload)["containers"]:
            tag = item["image"].split("/")[-1].partition(":")[2]
            assert tag and tag != "latest", item["image"]


# --- the gateway -----------------------------------------------------------------------------------------


def test_gateway_readiness_is_health(docs: list[Doc]):
    main = container(gateway(docs), "gateway")
    probe = main["readinessProbe"]["httpGet"]
    assert probe["path"] == "/health/"
    assert container_port(gateway(docs), probe["port"]) == Settings().server.port
    # Never an httpGet on /health/ for liveness: it is 503 whenever vLLM is down, and restarting the
    # gateway would not bring vLLM back.
    for kind in ("livenessProbe", "startupProbe"):
        assert "/health" not in str(main[kind].get("httpGet", {}).get("path", "")), kind


class _FixedStatus(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/health/" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[Callable[[int], int]]:
    servers: list[http.server.HTTPServer] = []

    def start(status: int) -> int:
        handler = type("Handler", (_FixedStatus,), {"status": status})
        server = http.server.HTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("kind", ["livenessProbe", "startupProbe"])
def test_gateway_liveness_passes_while_the_backend_is_down_and_fails_when_nothing_answers(
    docs: list[Doc], kind: str, health_server
):
    """The exec probe is run for real, with this interpreter, against servers answering each status."""
    argv = container(gateway(docs), "gateway")[kind]["exec"]["command"]
    assert argv[0] == "python", "the image's interpreter"

    def exit_code(port: int) -> int:
        environment = {**os.environ, "PORT": str(port)}
        return subprocess.run([sys.executable, *argv[1:]], env=environment, timeout=30).returncode

    assert exit_code(health_server(200)) == 0, "ready"
    assert exit_code(health_server(503)) == 0, "alive, its backend is not ready (or it is draining)"
    assert exit_code(health_server(500)) != 0
    assert exit_code(_free_port()) != 0, "nothing listening"
    probe = container(gateway(docs), "gateway")[kind]
    assert probe["timeoutSeconds"] > 4, "the probe's own urlopen timeout is 4 s"


def test_gateway_grace_period_outlasts_the_pause_and_the_drain(docs, tmp_path, monkeypatch):
    settings = gateway_settings(docs, tmp_path, monkeypatch)
    pre_stop = container(gateway(docs), "gateway")["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep" and len(pre_stop) == 2
    pause = float(pre_stop[1])
    assert pause >= 5, "long enough for the endpoints to drop the pod before SIGTERM"
    grace = pod_spec(gateway(docs))["terminationGracePeriodSeconds"]
    # The preStop pause counts against the grace period; then the drain (SHUTDOWN_TIMEOUT_SECONDS),
    # then the workers' exit.
    assert grace > settings.server.shutdown_timeout_seconds
    assert grace >= pause + settings.server.shutdown_timeout_seconds + 10


def _dockerfile_user() -> int:
    users = re.findall(r"^USER\s+(\S+)", (ROOT / "Dockerfile").read_text(), re.M)
    return int(users[-1].split(":")[0])


def _writable_mounts(workload: Doc, item: Doc) -> dict[str, Doc]:
    volumes = {volume["name"]: volume for volume in pod_spec(workload).get("volumes", [])}
    claims = {t["metadata"]["name"]: t for t in workload["spec"].get("volumeClaimTemplates", [])}
    mounts: dict[str, Doc] = {}
    for mount in item.get("volumeMounts", []):
        if mount.get("readOnly"):
            continue
        mounts[mount["mountPath"]] = volumes.get(mount["name"]) or {"claim": claims[mount["name"]]}
    return mounts


def test_gateway_runs_as_the_images_user_on_a_read_only_root(docs: list[Doc]):
    deployment = gateway(docs)
    pod = pod_spec(deployment)["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == _dockerfile_user() != 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    main = container(deployment, "gateway")
    context = main["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    # What the gateway writes: temporary files, and prometheus_client's per-worker files.
    writable = _writable_mounts(deployment, main)
    assert "emptyDir" in writable["/tmp"]
    metrics_dir = gateway_environment(docs)[MULTIPROC_DIR_VARIABLE]
    assert "emptyDir" in writable[metrics_dir]


def test_gateway_resources_are_set(docs: list[Doc]):
    resources = container(gateway(docs), "gateway")["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]


def test_hpa_scales_the_gateway_on_cpu(docs: list[Doc]):
    (hpa,) = find_all(docs, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    deployment = gateway(docs)
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        deployment["apiVersion"],
        deployment["kind"],
        deployment["metadata"]["name"],
    )
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    assert 0 < metric["resource"]["target"]["averageUtilization"] <= 100
    assert "cpu" in container(deployment, "gateway")["resources"]["requests"], "utilization needs a request"
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert "replicas" not in deployment["spec"], "the autoscaler owns the count"


def test_pdb_covers_the_gateway_pods(docs: list[Doc]):
    (pdb,) = find_all(docs, "PodDisruptionBudget")
    assert selected_workloads(docs, pdb["spec"]["selector"]) == ["voxtral-gateway"]
    (hpa,) = find_all(docs, "HorizontalPodAutoscaler")
    assert pdb["spec"]["maxUnavailable"] < hpa["spec"]["minReplicas"], "an eviction never takes them all"


def test_services_select_their_pods_and_ports(docs: list[Doc]):
    for service in find_all(docs, "Service"):
        selected = selected_workloads(docs, {"matchLabels": service["spec"]["selector"]})
        assert len(selected) == 1, f"Service {service['metadata']['name']} selects {selected}"
        workload = workload_named(docs, selected[0])
        for port in service["spec"]["ports"]:
            container_port(workload, port["targetPort"])


def test_api_keys_secret_is_mounted_where_api_keys_file_points(docs: list[Doc], tmp_path: Path):
    keys_file = PurePosixPath(gateway_environment(docs)["API_KEYS_FILE"])
    deployment = gateway(docs)
    volumes = {volume["name"]: volume for volume in pod_spec(deployment)["volumes"]}
    (mount,) = [
        m for m in container(deployment, "gateway")["volumeMounts"] if m["mountPath"] == str(keys_file.parent)
    ]
    # A whole-directory mount (no subPath): an updated Secret reaches the pod, and the gateway re-reads it.
    assert "subPath" not in mount and mount.get("readOnly") is True
    secret_name = volumes[mount["name"]]["secret"]["secretName"]
    secret = find(docs, "Secret", secret_name)
    assert secret_name == generated(docs, "Secret", "voxtral-gateway-api-keys")["metadata"]["name"]
    content = base64.b64decode(secret["data"][keys_file.name])
    # The gateway's own reader accepts it (it refuses to start on an unreadable or invalid file).
    (tmp_path / keys_file.name).write_bytes(content)
    read_keys_file(tmp_path / keys_file.name)
    # The pod's user can read it: group-readable, group = fsGroup.
    mode = volumes[mount["name"]]["secret"].get("defaultMode", 0o644)
    assert mode & 0o040 and pod_spec(deployment)["securityContext"]["fsGroup"] is not None


def test_gateway_environment_is_made_of_real_settings(docs, variant, tmp_path, monkeypatch):
    environment = gateway_environment(docs)
    known = {name.upper() for name in SETTING_NAMES}
    main = container(gateway(docs), "gateway")
    for source in main["envFrom"]:
        names = set(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
        assert not names - known, f"not settings of the gateway: {sorted(names - known)}"
    # The one variable that is not a setting: read by the server before the settings.
    assert {item["name"] for item in main.get("env", [])} == {MULTIPROC_DIR_VARIABLE}
    settings = gateway_settings(docs, tmp_path, monkeypatch)
    assert settings.resolved_backend == {"base": "vllm", "cpu": "embedded"}[variant]
    assert settings.server.workers == int(environment["WORKERS"])


def _service_endpoint(docs: list[Doc], url_host: str, url_port: int) -> Doc:
    service = find(docs, "Service", url_host)
    assert url_port in [port["port"] for port in service["spec"]["ports"]], f"{url_host}:{url_port}"
    return service


def test_gateway_reaches_redis_and_vllm_through_their_services(docs, variant, tmp_path, monkeypatch):
    settings = gateway_settings(docs, tmp_path, monkeypatch)
    redis_url = urlparse(settings.rate_limits.redis_url or "")
    assert redis_url.scheme == "redis"
    _service_endpoint(docs, redis_url.hostname or "", redis_url.port or 6379)
    if variant == "base":
        vllm_url = urlparse(settings.vllm.base_url)
        _service_endpoint(docs, vllm_url.hostname or "", vllm_url.port or 80)


# --- Redis -------------------------------------------------------------------------------------------------


def test_redis_keeps_its_data_on_a_volume_as_a_non_root_user(docs: list[Doc]):
    redis = find(docs, "StatefulSet", "redis")
    main = container(redis, "redis")
    assert re.fullmatch(r"redis:7\.\d+(\.\d+)?-alpine", main["image"])
    argv = main["args"]
    assert argv[argv.index("--appendonly") + 1] == "yes"
    assert argv[argv.index("--maxmemory-policy") + 1] == "noeviction", "state is refused, never dropped"
    assert argv[argv.index("--appendfsync") + 1] in ("everysec", "always"), "at most a second lost"
    data_dir = argv[argv.index("--dir") + 1]
    claim = _writable_mounts(redis, main)[data_dir]["claim"]
    # The append-only file holds what memory holds, and is rewritten beside itself: room for twice that.
    storage = _bytes(claim["spec"]["resources"]["requests"]["storage"])
    assert storage >= 2 * _bytes(argv[argv.index("--maxmemory") + 1])
    assert pod_spec(redis)["securityContext"]["runAsNonRoot"] is True
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert main["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert main["readinessProbe"]["exec"]["command"] == ["redis-cli", "ping"]


def _bytes(quantity: str) -> int:
    """A Kubernetes quantity (`2Gi`, `2G`) or a Redis memory size (`400mb`, `400m`) in bytes: `Mi` and
    Redis's `mb` are binary, `M` and Redis's `m` decimal."""
    number, unit = re.fullmatch(r"(\d+)\s*([A-Za-z]*)", quantity.strip()).groups()  # type: ignore[union-attr]
    factors = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}
    factors |= {
        suffix: 1024 ** (1 + "kmg".index(suffix[0])) for suffix in ("kb", "ki", "mb", "mi", "gb", "gi")
    }
    return int(number) * factors[unit.lower()]


# --- vLLM --------------------------------------------------------------------------------------------------


def _flags(argv: list[str]) -> dict[str, str]:
    flags: dict[str, str] = {}
    for index, item in enumerate(argv):
        if item.startswith("--"):
            value = argv[index + 1] if index + 1 < len(argv) and not argv[index + 1].startswith("--") else ""
            flags[item[2:].replace("-", "_")] = value
    return flags


def test_vllm_image_is_the_release_with_its_audio_extra():
    dockerfile = (KUBERNETES / "images" / "vllm-audio.Dockerfile").read_text()
    assert re.search(rf"^FROM vllm/vllm-openai:v{re.escape(VLLM_VERSION)}$", dockerfile, re.M)
    extra = re.search(r"vllm\[(?P<extras>[\w,]+)\]==(?P<version>[\d.]+)", dockerfile)
    assert extra and "audio" in extra.group("extras").split(",") and extra.group("version") == VLLM_VERSION
    vllm = find(render("base"), "Deployment", "vllm")
    assert container(vllm, "vllm")["image"] == f"voxtral-gateway/vllm-audio:{VLLM_VERSION}"


def test_vllm_serves_voxtral_on_a_gpu_with_its_cache_and_shared_memory(tmp_path, monkeypatch):
    docs = render("base")
    vllm = find(docs, "Deployment", "vllm")
    main = container(vllm, "vllm")
    flags = _flags(main["args"])
    settings = gateway_settings(docs, tmp_path, monkeypatch)
    assert flags["model"] == settings.vllm.model
    for flag in ("tokenizer_mode", "config_format", "load_format"):
        assert flags[flag] == "mistral", flag
    assert flags["host"] == "0.0.0.0"
    assert container_port(vllm, "http") == int(flags["port"]) == settings.vllm.port
    assert str(main["resources"]["limits"]["nvidia.com/gpu"]) == "1"
    assert vllm["spec"]["strategy"]["type"] == "Recreate", "the GPU and the RWO cache are held by one pod"
    # /health answers only once the model is loaded: a long startup budget, readiness and liveness on it.
    startup = main["startupProbe"]
    assert startup["httpGet"]["path"] == "/health"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 1200
    assert main["readinessProbe"]["httpGet"]["path"] == "/health"
    volumes = {volume["name"]: volume for volume in pod_spec(vllm)["volumes"]}
    mounts = {mount["mountPath"]: volumes[mount["name"]] for mount in main["volumeMounts"]}
    assert mounts["/dev/shm"]["emptyDir"]["medium"] == "Memory"
    environment = {item["name"]: item for item in main["env"]}
    cache = mounts[environment["HF_HOME"]["value"]]
    claim = find(docs, "PersistentVolumeClaim", cache["persistentVolumeClaim"]["claimName"])
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert environment["HF_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True
    # Every audio the gateway sends (16 kHz mono 16-bit WAV): a transcription segment of
    # VOXTRAL_MAX_AUDIO_SECONDS, or one understanding audio of UNDERSTANDING_MAX_TOTAL_SECONDS, fits;
    # vLLM reads the cap with int().
    longest = max(settings.vllm.max_audio_seconds, settings.limits.understanding_max_total_seconds)
    wav_mib = (44 + longest * 16_000 * 2) / MIB
    cap = environment["VLLM_MAX_AUDIO_CLIP_FILESIZE_MB"]["value"]
    assert cap.isdigit() and int(cap) >= max(wav_mib, 25)
    assert int(environment["VLLM_MAX_AUDIO_DECODE_DURATION_S"]["value"]) >= longest
    assert main["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert main["securityContext"]["allowPrivilegeEscalation"] is False


def test_cpu_overlay_has_no_vllm():
    docs = render("cpu")
    names = {(doc["kind"], doc["metadata"]["name"]) for doc in docs}
    assert not [name for name in names if "vllm" in name[1]], sorted(names)
    namespace = find(docs, "Namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    threads = int(gateway_environment(docs)["EMBEDDED_CPU_THREADS"])
    workers = int(gateway_environment(docs)["WORKERS"])
    cpu_limit = float(container(gateway(docs), "gateway")["resources"]["limits"]["cpu"])
    assert 0 < threads * workers <= cpu_limit, "CTranslate2 would otherwise start a thread per node core"


# --- Ingress -----------------------------------------------------------------------------------------------


def _routed(path: str, rules: list[Doc]) -> bool:
    for rule in rules:
        prefix = rule["path"]
        if rule["pathType"] == "Exact" and path == prefix:
            return True
        if rule["pathType"] == "Prefix" and (path == prefix or path.startswith(prefix.rstrip("/") + "/")):
            return True
    return False


def _size_bytes(text: str) -> int:
    match = re.fullmatch(r"(\d+)([kKmMgG]?)", text)
    assert match, text
    return int(match.group(1)) * {"": 1, "k": 1024, "m": MIB, "g": 1024 * MIB}[match.group(2).lower()]


@pytest.fixture(scope="module")
def gateway_routes(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    cwd = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("routes"))
    try:
        app = create_app(load_settings({}))
    finally:
        os.chdir(cwd)
    return sorted({route.path for route in app.routes})


def test_ingress_routes_every_api_path_but_metrics(docs: list[Doc], gateway_routes: list[str]):
    (ingress,) = find_all(docs, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    (rule,) = ingress["spec"]["rules"]
    paths = rule["http"]["paths"]
    for path in paths:
        backend = path["backend"]["service"]
        service = find(docs, "Service", backend["name"])
        assert backend["port"]["name"] in [port["name"] for port in service["spec"]["ports"]]
        assert selected_workloads(docs, {"matchLabels": service["spec"]["selector"]}) == ["voxtral-gateway"]
    assert "/metrics" in gateway_routes
    assert not _routed("/metrics", paths), "/metrics must stay internal"
    unrouted = [route for route in gateway_routes if route != "/metrics" and not _routed(route, paths)]
    assert not unrouted, f"routes the Ingress does not expose: {unrouted} (add them to base/ingress.yaml)"


def test_ingress_takes_the_largest_body_and_the_longest_wait(docs, tmp_path, monkeypatch):
    settings = gateway_settings(docs, tmp_path, monkeypatch)
    (ingress,) = find_all(docs, "Ingress")
    annotations = ingress["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    largest = max(
        base64_body_limit(settings.limits.max_file_size_bytes),
        base64_body_limit(settings.limits.max_request_size_bytes),
    )
    body = _size_bytes(annotations[prefix + "proxy-body-size"])
    assert largest <= body < 2 * largest, "the gateway's largest body fits, without a needless margin"
    read_timeout = int(annotations[prefix + "proxy-read-timeout"])
    assert read_timeout >= settings.timeouts.transcription.total
    assert read_timeout >= settings.timeouts.understanding.total
    assert read_timeout > settings.streaming.idle_timeout_seconds, "nginx must not cut a live stream first"
    assert int(annotations[prefix + "proxy-send-timeout"]) >= settings.timeouts.transcription.total
    assert annotations[prefix + "proxy-buffering"] == "off", "SSE must not be buffered"
    assert math.isclose(float(annotations[prefix + "proxy-http-version"]), 1.1), "WebSocket upgrades need 1.1"
    assert not [key for key in annotations if "snippet" in key], "snippets are disabled by default"


# --- NetworkPolicy -----------------------------------------------------------------------------------------


def _policies_for(docs: list[Doc], workload: str) -> list[Doc]:
    labels = pod_labels(workload_named(docs, workload))
    return [p for p in find_all(docs, "NetworkPolicy") if selects(p["spec"]["podSelector"], labels)]


def _allowed_peers(policies: list[Doc]) -> list[Doc]:
    return [
        peer for policy in policies for rule in policy["spec"].get("ingress", []) for peer in rule["from"]
    ]


def test_default_deny_covers_every_pod(docs: list[Doc]):
    deny = find(docs, "NetworkPolicy", "default-deny-ingress")
    assert deny["spec"]["podSelector"] == {} and deny["spec"]["policyTypes"] == ["Ingress"]
    assert "ingress" not in deny["spec"]
    for policy in find_all(docs, "NetworkPolicy"):
        assert policy["spec"]["podSelector"] == {} or selected_workloads(
            docs, policy["spec"]["podSelector"]
        ), f"NetworkPolicy {policy['metadata']['name']} selects no pods"
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from"), f"{policy['metadata']['name']} has a rule open to everyone"


def test_redis_and_vllm_take_connections_from_gateway_pods_only(docs: list[Doc], variant: str):
    backends = {"base": ["redis", "vllm"], "cpu": ["redis"]}[variant]
    assert sorted(w["metadata"]["name"] for w in workloads(docs)) == sorted([*backends, "voxtral-gateway"])
    for workload in backends:
        peers = _allowed_peers(_policies_for(docs, workload))
        assert peers, workload
        for peer in peers:
            assert set(peer) == {"podSelector"}, f"{workload}: only pods of this namespace"
            assert selected_workloads(docs, peer["podSelector"]) == ["voxtral-gateway"], workload


def test_gateway_takes_connections_from_the_ingress_controller_and_monitoring(docs: list[Doc]):
    policies = _policies_for(docs, "voxtral-gateway")
    namespaces = set()
    for peer in _allowed_peers(policies):
        assert set(peer) == {"namespaceSelector"}, peer
        namespaces.add(peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
    assert namespaces == {"ingress-nginx", "monitoring"}
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            for port in rule["ports"]:
                assert container_port(gateway(docs), port["port"]) == Settings().server.port
