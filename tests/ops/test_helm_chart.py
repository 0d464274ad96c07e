"""deploy/helm/crm: `helm lint`, and `helm template | kubeconform -strict` against the
Kubernetes schemas, with the minimal values (the secrets it requires) and with the
production-like ci/production-values.yaml; then what the rendered objects must hold."""

import subprocess
from typing import Any

import pytest
import yaml

from crm_testing.ops import CHART, ops_tools

PRODUCTION = CHART / "ci" / "production-values.yaml"
SERVICES = ("contract-registry", "obligation-tracker", "sla-monitor", "billing-reconciler")
MINIMAL = [
    "--set",
    "secrets.adminApiKey=admin-key",
    "--set",
    "secrets.webhookSecretKeys=Y3JtLXRlc3Qtd2ViaG9vay1rZXktbm90LXNlY3JldCE=",
] + [
    arg
    for name in SERVICES
    for arg in ("--set", f"postgres.databaseUrls.{name}=postgresql://crm:pw@pg:5432/{name}")
]
# kubeconform's template of a schema's path, in the layout scripts/ops-tools.sh unpacks.
SCHEMA_FILES = (
    "{{ .NormalizedKubernetesVersion }}-local-strict/{{ .ResourceKind }}{{ .KindSuffix }}.json"
)
VALUES = {"minimal": MINIMAL, "production": ["-f", str(PRODUCTION)]}


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    return ops_tools()


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=120)


def render(tools: dict[str, str], values: list[str]) -> str:
    result = run(tools["HELM"], "template", "crm", str(CHART), "--namespace", "crm", *values)
    assert result.returncode == 0, result.stderr
    return result.stdout


def kubeconform(tools: dict[str, str], manifests: str) -> subprocess.CompletedProcess[str]:
    location = tools["KUBERNETES_SCHEMAS"] + "/" + SCHEMA_FILES
    return run(
        tools["KUBECONFORM"],
        "-strict",
        "-summary",
        "-kubernetes-version",
        tools["KUBERNETES_VERSION"],
        "-schema-location",
        location,
        stdin=manifests,
    )


def objects(manifests: str, kind: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(manifests) if d and d["kind"] == kind]


@pytest.mark.parametrize("values", VALUES, ids=list(VALUES))
def test_the_chart_passes_helm_lint(tools: dict[str, str], values: str) -> None:
    result = run(tools["HELM"], "lint", "--strict", str(CHART), *VALUES[values])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("values", VALUES, ids=list(VALUES))
def test_every_rendered_object_is_valid_kubernetes(tools: dict[str, str], values: str) -> None:
    manifests = render(tools, VALUES[values])
    count = len([d for d in yaml.safe_load_all(manifests) if d])
    result = kubeconform(tools, manifests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{count} resources found" in result.stdout
    assert f"Valid: {count}, Invalid: 0, Errors: 0, Skipped: 0" in result.stdout


def test_kubeconform_rejects_a_field_kubernetes_does_not_know(tools: dict[str, str]) -> None:
    manifests = render(tools, MINIMAL).replace(
        "imagePullPolicy: IfNotPresent",
        "imagePullPolicy: IfNotPresent\n          restart: always",
        1,
    )
    result = kubeconform(tools, manifests)
    assert result.returncode != 0
    assert "additional properties 'restart' not allowed" in result.stdout


def test_without_its_secrets_the_chart_says_which_value_is_missing(tools: dict[str, str]) -> None:
    result = run(tools["HELM"], "template", "crm", str(CHART))
    assert result.returncode != 0
    assert "secrets.adminApiKey is required (or secrets.existingSecret)" in result.stderr


def test_each_service_runs_probed_non_root_and_migrated_by_a_hook_job(
    tools: dict[str, str],
) -> None:
    manifests = render(tools, MINIMAL)
    deployments = {
        d["metadata"]["labels"]["app.kubernetes.io/name"]: d
        for d in objects(manifests, "Deployment")
    }
    assert sorted(deployments) == sorted(SERVICES)
    configs = {c["metadata"]["name"]: c["data"] for c in objects(manifests, "ConfigMap")}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["resources"]["requests"]["cpu"]
        prefix = name.replace("-", "_").upper() + "_"
        secret_env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
        assert secret_env[f"{prefix}DATABASE_URL"] == {
            "name": "crm-secrets",
            "key": f"{name}-database-url",
        }
        config = configs[container["envFrom"][0]["configMapRef"]["name"]]
        # The Job migrates; the pods do not race it at start-up.
        assert config[f"{prefix}RUN_MIGRATIONS_ON_STARTUP"] == "false"
        if name == "obligation-tracker":  # its webhook secrets' keys, from the Secret only
            assert secret_env["OBLIGATION_TRACKER_WEBHOOK_SECRET_KEYS"] == {
                "name": "crm-secrets",
                "key": "webhook-secret-keys",
            }
        else:
            assert not any("WEBHOOK" in e for e in secret_env)
        assert config["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        # Each replica enforces its share of the rate limits: one share per replica.
        assert config[f"{prefix}RATE_LIMIT_INSTANCES"] == "2"

    jobs = {j["metadata"]["name"]: j for j in objects(manifests, "Job")}
    assert sorted(jobs) == sorted(f"crm-{name}-migrate" for name in SERVICES)
    for name in SERVICES:
        job = jobs[f"crm-{name}-migrate"]
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["python", "-m", name.replace("-", "_"), "migrate"]
    (secret,) = objects(manifests, "Secret")
    assert secret["metadata"]["annotations"]["helm.sh/hook-weight"] == "-10"  # before the Jobs
    assert sorted(secret["stringData"]) == sorted(
        ["admin-api-key", "webhook-secret-keys", *(f"{n}-database-url" for n in SERVICES)]
    )


def test_autoscaling_and_disruption_budgets_cover_every_service(tools: dict[str, str]) -> None:
    for values in VALUES.values():
        manifests = render(tools, values)
        hpas = objects(manifests, "HorizontalPodAutoscaler")
        pdbs = objects(manifests, "PodDisruptionBudget")
        assert {h["apiVersion"] for h in hpas} == {"autoscaling/v2"}
        assert {p["apiVersion"] for p in pdbs} == {"policy/v1"}
        assert len(hpas) == len(pdbs) == len(SERVICES)
        configs = {c["metadata"]["name"]: c["data"] for c in objects(manifests, "ConfigMap")}
        for hpa in hpas:
            name = hpa["metadata"]["labels"]["app.kubernetes.io/name"]
            prefix = name.replace("-", "_").upper() + "_"
            partitions = int(configs[f"crm-{name}"][f"{prefix}KAFKA_TOPIC_PARTITIONS"])
            # An instance beyond the partition count would hold no partition.
            assert hpa["spec"]["maxReplicas"] <= partitions
            assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_production_values_use_the_existing_secret_and_registry_images(
    tools: dict[str, str],
) -> None:
    manifests = render(tools, VALUES["production"])
    assert objects(manifests, "Secret") == []
    for deployment in objects(manifests, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"].startswith("registry.example.com/crm/")
        assert container["image"].endswith(":0.2.0")
        refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
        assert refs == {"crm-secrets"}
        assert pod["imagePullSecrets"] == [{"name": "registry-credentials"}]
