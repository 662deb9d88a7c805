"""The Helm chart: lint, render for 1 and 12 cameras, shard split, secrets, schema validation.

Rendering uses helm-python-sdk (Helm's Go SDK through ctypes: no helm binary, no cluster);
manifests are validated with kubernetes-validate --strict (Python API) against the oldest
Kubernetes the chart supports and the newest the validator knows.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
import zmq

from service.app.security import check_http_exposure, check_zmq_exposure, http_access, zmq_curve
from service.cli import build_parser
from service.cli.proxy import _curve as proxy_curve
from service.config import load_config
from service.outputs.curve import parse_key, public_key_of
from tests.deploy.conftest import DEPLOY

helm = pytest.importorskip(
    "helm_python", reason="helm-python-sdk is not installed (pip install helm-python-sdk)"
)
kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate is not installed (pip install kubernetes-validate)"
)

CHART = DEPLOY / "helm" / "actionstream"
RELEASE = "demo"
NAMESPACE = "video"
# Custom resources of the Prometheus Operator: kubernetes-validate only knows built-in kinds, so
# these are checked by hand in test_monitoring_resources_only_when_enabled instead.
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
KUBE_VERSIONS = ("1.25", kubernetes_validate.latest_version())


def cameras(n: int, secret_every: int = 3) -> list[dict[str, Any]]:
    """n cameras; every secret_every-th takes its URL from a Secret."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        if i % secret_every == 0:
            out.append({"id": f"cam{i:02d}", "sourceSecret": {"name": "camera-urls", "key": f"cam{i:02d}"}})
        else:
            out.append({"id": f"cam{i:02d}", "source": f"rtsp://cam{i:02d}.cameras.svc:8554/stream"})
    return out


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    with helm.Chart.load(str(CHART)) as chart:
        manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    return [
        doc
        for name, text in sorted(manifests.items())
        if name.endswith((".yaml", ".yml"))
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def of_kind(docs: list[dict[str, Any]], kind: str, component: str | None = None) -> list[dict[str, Any]]:
    return [
        d
        for d in docs
        if d["kind"] == kind
        and (component is None or d["metadata"]["labels"].get("app.kubernetes.io/component") == component)
    ]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return c


def shard_configs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        cm["metadata"]["name"]: yaml.safe_load(cm["data"]["config.yaml"])
        for cm in of_kind(docs, "ConfigMap", "shard")
    }


def env_with_secrets(deployment: dict[str, Any], secrets: dict[tuple[str, str], str]) -> dict[str, str]:
    """The container's environment as the kubelet would build it from these Secret values."""
    env = {}
    for var in container(deployment).get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = secrets[(ref["name"], ref["key"])]
    return env


def chart_secrets(docs: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(Secret name, key) -> value of every Secret the chart renders."""
    return {
        (doc["metadata"]["name"], key): base64.b64decode(value).decode()
        for doc in of_kind(docs, "Secret")
        for key, value in doc["data"].items()
    }


def mount_secrets(
    deployment: dict[str, Any], secrets: dict[tuple[str, str], str], root: Path
) -> dict[str, str]:
    """Write the pod's Secret volumes under ``root`` as the kubelet would mount them; returns
    mount path -> where it is here (to rewrite the paths in env and args)."""
    spec = deployment["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    moved = {}
    for mount in container(deployment).get("volumeMounts", []):
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        here = root / deployment["metadata"]["name"] / mount["name"]
        here.mkdir(parents=True, exist_ok=True)
        for item in secret["items"]:
            (here / item["path"]).write_text(secrets[(secret["secretName"], item["key"])])
        moved[mount["mountPath"]] = str(here)
    return moved


def moved(value: str, mounts: dict[str, str]) -> str:
    for inside, here in mounts.items():
        value = value.replace(inside + "/", here + "/")
    return value


@pytest.mark.parametrize("n", [1, 12])
def test_chart_lints_clean(n: int) -> None:
    report = helm.lint(str(CHART), {"cameras": cameras(n)}, strict=True)
    errors = [m for m in report["messages"] if m["severity"] >= 2]
    assert not errors and not report["errors"], report


@pytest.mark.parametrize(("n", "per_shard"), [(1, 4), (12, 4), (12, 5), (12, 1)])
def test_every_camera_in_exactly_one_shard(n: int, per_shard: int, tmp_path: Path) -> None:
    docs = render({"cameras": cameras(n), "camerasPerShard": per_shard})
    shards = math.ceil(n / per_shard)
    deployments = of_kind(docs, "Deployment", "shard")
    services = of_kind(docs, "Service", "shard")
    configs = shard_configs(docs)
    assert len(deployments) == len(services) == len(configs) == shards
    assert sorted(configs) == sorted(f"{RELEASE}-actionstream-shard-{i}" for i in range(shards))
    seen = [cam["id"] for config in configs.values() for cam in config["cameras"]]
    assert sorted(seen) == [c["id"] for c in cameras(n)]  # each exactly once, none lost
    assert all(len(c["cameras"]) <= per_shard for c in configs.values())

    secrets = {("camera-urls", c["id"]): f"rtsp://user:pw-{c['id']}@10.0.0.1/s" for c in cameras(n)}
    secrets |= chart_secrets(docs)
    for deployment in deployments:
        assert deployment["spec"]["replicas"] == 1
        name = deployment["metadata"]["name"]
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes["config"]["configMap"]["name"] == name
        # The shard's config, as the pod sees it, passes the service's own config loader.
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(configs[name]))
        mounts = mount_secrets(deployment, secrets, tmp_path)
        env = {k: moved(v, mounts) for k, v in env_with_secrets(deployment, secrets).items()}
        config = load_config(path, env=env)
        for cam in config.cameras:
            if int(cam.id[3:]) % 3 == 0:
                assert cam.source == secrets[("camera-urls", cam.id)]
            else:
                assert cam.source.startswith("rtsp://cam")
        assert config.http.host == "0.0.0.0" and config.zmq.bind == "tcp://0.0.0.0:5556"


def test_proxy_connects_to_every_shard() -> None:
    docs = render({"cameras": cameras(12), "camerasPerShard": 4})
    (proxy,) = of_kind(docs, "Deployment", "proxy")
    args = container(proxy)["args"]
    assert args[:3] == ["proxy", "--bind", "tcp://0.0.0.0:5560"]
    upstreams = [args[i + 1] for i, a in enumerate(args) if a == "--upstream"]
    shard_services = {s["metadata"]["name"] for s in of_kind(docs, "Service", "shard")}
    assert {u.removeprefix("tcp://").rsplit(":", 1)[0] for u in upstreams} == shard_services
    assert all(u.endswith(":5556") for u in upstreams) and len(upstreams) == 3
    (svc,) = of_kind(docs, "Service", "proxy")
    assert svc["spec"]["ports"][0]["port"] == 5560
    for service in of_kind(docs, "Service", "shard"):
        assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"]


def test_credentials_come_from_secrets_never_from_config_maps() -> None:
    docs = render({"cameras": cameras(7), "camerasPerShard": 4})
    for cm in of_kind(docs, "ConfigMap"):
        assert "@" not in str(cm["data"]), cm["metadata"]["name"]
    configs = shard_configs(docs)
    refs = 0
    for deployment in of_kind(docs, "Deployment", "shard"):
        config_cameras = configs[deployment["metadata"]["name"]]["cameras"]
        for var in container(deployment)["env"]:
            if "valueFrom" not in var:
                continue
            # ACTIONSTREAM_CAMERAS__<index in this shard's config>__SOURCE <- the camera's Secret key
            index = int(var["name"].split("__")[1])
            assert var["name"] == f"ACTIONSTREAM_CAMERAS__{index}__SOURCE"
            camera = config_cameras[index]
            assert var["valueFrom"]["secretKeyRef"] == {"name": "camera-urls", "key": camera["id"]}
            assert camera["source"].startswith("from-secret:")
            refs += 1
    assert refs == 3  # cam00 and cam03 in shard 0, cam06 in shard 1
    with pytest.raises(helm.HelmError, match="password in its source URL"):
        render({"cameras": [{"id": "door", "source": "rtsp://admin:hunter2@10.0.0.9/live"}]})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"cameras": []}, "cameras is empty"),
        ({"cameras": [{"id": "a", "source": "0"}, {"id": "a", "source": "1"}]}, "listed twice"),
        ({"cameras": [{"id": "a", "source": "0"}], "camerasPerShard": 0}, "camerasPerShard"),
        ({"cameras": [{"id": "a"}]}, "source"),
        ({"cameras": [{"id": "Bad Id", "source": "0"}]}, "id"),
    ],
)
def test_bad_values_fail_with_a_message(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmError, match=message):
        render(values)


def test_probes_ports_and_scrape_annotations() -> None:
    (deployment,) = of_kind(render({"cameras": cameras(1)}), "Deployment", "shard")
    c = container(deployment)
    assert c["args"] == ["serve", "--config", "/config/config.yaml"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert c["startupProbe"]["httpGet"]["path"] == "/livez"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"http": 8080, "zmq": 5556}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8080"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert c["image"] == "actionstream:0.1.0-cpu"
    assert "nvidia.com/gpu" not in c["resources"].get("limits", {})


def test_gpu_enabled_requests_a_gpu_and_uses_the_gpu_image() -> None:
    docs = render({"cameras": cameras(5), "gpu": {"enabled": True, "count": 1}})
    for deployment in of_kind(docs, "Deployment", "shard"):
        c = container(deployment)
        assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert c["image"] == "actionstream:0.1.0-gpu"
    assert all(c["pose"]["device"] == "cuda" for c in shard_configs(docs).values())
    (proxy,) = of_kind(docs, "Deployment", "proxy")
    assert container(proxy)["image"] == "actionstream:0.1.0-cpu"  # the proxy needs no GPU
    assert "nvidia.com/gpu" not in str(container(proxy).get("resources"))


def test_monitoring_resources_only_when_enabled() -> None:
    assert not [d for d in render({"cameras": cameras(2)}) if d["kind"] in CRD_KINDS]
    docs = render(
        {"cameras": cameras(2), "serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}}
    )
    (monitor,) = of_kind(docs, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/name"
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    selector = monitor["spec"]["selector"]["matchLabels"]
    for service in of_kind(docs, "Service", "shard"):
        assert selector.items() <= service["metadata"]["labels"].items()
        assert service["metadata"]["labels"]["app.kubernetes.io/name"] == "actionstream"  # job label
    (rule,) = of_kind(docs, "PrometheusRule")
    source = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    assert rule["spec"] == source


def test_dashboard_config_map_for_the_grafana_sidecar() -> None:
    (cm,) = [d for d in render({"cameras": cameras(1)}) if d["metadata"]["name"].endswith("-dashboards")]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    source = DEPLOY / "grafana" / "dashboards"
    assert cm["data"] == {p.name: p.read_text() for p in sorted(source.glob("*.json"))}


def test_chart_copies_match_their_sources_byte_for_byte() -> None:
    pairs = [(DEPLOY / "prometheus" / "alerts.yml", CHART / "files" / "alerts.yml")]
    source_dir = DEPLOY / "grafana" / "dashboards"
    chart_dir = CHART / "dashboards"
    assert sorted(p.name for p in source_dir.glob("*.json")) == sorted(
        p.name for p in chart_dir.glob("*.json")
    )
    pairs += [(p, chart_dir / p.name) for p in source_dir.glob("*.json")]
    for source, copy in pairs:
        assert source.read_bytes() == copy.read_bytes(), f"{copy} differs from {source}: cp {source} {copy}"


def _all_manifests() -> Iterator[tuple[str, dict[str, Any]]]:
    for label, values in (
        ("1 camera", {"cameras": cameras(1)}),
        (
            "12 cameras, GPU, monitoring",
            {
                "cameras": cameras(12),
                "gpu": {"enabled": True},
                "serviceMonitor": {"enabled": True},
                "prometheusRule": {"enabled": True},
                "models": {"existingClaim": "actionstream-models"},
            },
        ),
    ):
        for doc in render(values):
            yield label, doc


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_rendered_manifests_pass_kubernetes_validate_strict(kube_version: str) -> None:
    checked = skipped = 0
    failures = []
    for label, doc in _all_manifests():
        if doc["kind"] in CRD_KINDS:
            skipped += 1
            continue
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
            checked += 1
        except kubernetes_validate.ValidationError as exc:
            failures.append(
                f"{label}: {doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}"
            )
    assert not failures, "\n".join(failures)
    # 1 camera: 1 shard x (ConfigMap, Service, Deployment) + proxy Deployment and Service + dashboards
    # ConfigMap + auth Secret = 7; 12 cameras: 3 shards x 3 + 4 = 13; the ServiceMonitor and
    # PrometheusRule skipped.
    assert (checked, skipped) == (20, 2)


def test_authentication_is_on_in_every_pod(tmp_path: Path) -> None:
    alice = zmq.curve_keypair()[0].decode()
    docs = render({"cameras": cameras(5), "auth": {"clientKeys": [alice]}})
    secrets = chart_secrets(docs) | {("camera-urls", c["id"]): "rtsp://u:p@10.0.0.1/s" for c in cameras(5)}
    (secret,) = of_kind(docs, "Secret")
    name = secret["metadata"]["name"]
    assert name == f"{RELEASE}-actionstream-auth"
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    token, key = secrets[(name, "http-token")], secrets[(name, "server.key_secret")]
    assert len(token) == 48 and token.isalnum()
    server_key = parse_key(key)  # 40 letters and digits are always a valid Z85 key
    configs = shard_configs(docs)
    for deployment in of_kind(docs, "Deployment", "shard"):
        mounts = mount_secrets(deployment, secrets, tmp_path)
        env = {k: moved(v, mounts) for k, v in env_with_secrets(deployment, secrets).items()}
        path = tmp_path / "shard.yaml"
        path.write_text(yaml.safe_dump(configs[deployment["metadata"]["name"]]))
        config = load_config(path, env=env)
        assert http_access(config.http).token == token
        curve = zmq_curve(config.zmq)
        assert curve is not None and curve.secret_key == server_key
        assert curve.allows(alice.encode()) and curve.allows(public_key_of(server_key)), "alice and the proxy"
        # Bound to 0.0.0.0, and allowed to because authentication is on.
        assert check_http_exposure(config.http, insecure=False) is None
        assert check_zmq_exposure(config.zmq.bind, config.zmq.curve_enabled, insecure=False) is None
        assert "--insecure" not in container(deployment)["args"]
    (proxy,) = of_kind(docs, "Deployment", "proxy")
    mounts = mount_secrets(proxy, secrets, tmp_path)
    args = build_parser().parse_args([moved(a, mounts) for a in container(proxy)["args"]])
    assert not args.insecure
    server, upstream = proxy_curve(args, env_with_secrets(proxy, secrets))
    assert server is not None and server.allows(alice.encode())
    assert upstream is not None and upstream.server_key == public_key_of(server_key), "the shards' key"
    assert check_zmq_exposure(args.bind, True, insecure=False) is None


def test_auth_values(tmp_path: Path) -> None:
    docs = render({"cameras": cameras(2), "auth": {"existingSecret": "my-auth", "metricsAuth": True}})
    assert not of_kind(docs, "Secret"), "the user's Secret is used, none is made"
    for deployment in of_kind(docs, "Deployment"):
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes["auth"]["secret"]["secretName"] == "my-auth"
    (shard,) = of_kind(docs, "Deployment", "shard")
    assert {"name": "ACTIONSTREAM_HTTP__METRICS_AUTH", "value": "true"} in container(shard)["env"]
    with pytest.raises(helm.HelmError, match="is not a Z85 CURVE public key"):
        render({"cameras": cameras(1), "auth": {"clientKeys": ["x" * 39 + " "]}})
