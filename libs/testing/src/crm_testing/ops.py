"""The operations assets (deploy/observability, deploy/helm) and their tools, for tests."""

from __future__ import annotations

import json
import re
import subprocess

import yaml

from crm_testing.stack import REPO_ROOT

OBSERVABILITY = REPO_ROOT / "deploy" / "observability"
ALERTS = OBSERVABILITY / "alerts.yml"
ALERT_TESTS = OBSERVABILITY / "alerts.test.yml"
DASHBOARD = OBSERVABILITY / "grafana-dashboard.json"
CHART = REPO_ROOT / "deploy" / "helm" / "crm"

# Series Prometheus makes itself rather than scraping them.
PROMETHEUS_OWN = {"up"}
_NAME = re.compile(r"\b(crm_[a-z0-9_]+|up)\b")


def ops_tools() -> dict[str, str]:
    """promtool, helm, kubeconform and the Kubernetes schemas, installed (once, cached) by
    scripts/ops-tools.sh; returns its NAME=PATH lines as a dict."""
    out = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "ops-tools.sh"), "--print"],
        check=True,
        capture_output=True,
        text=True,
        timeout=1800,
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def alert_expressions() -> dict[str, str]:
    doc = yaml.safe_load(ALERTS.read_text())
    return {r["alert"]: r["expr"] for g in doc["groups"] for r in g["rules"]}


def dashboard_expressions() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]
    return exprs + [v["definition"] for v in doc["templating"]["list"] if "definition" in v]


def metric_names(expressions: list[str]) -> set[str]:
    """The metric names a PromQL expression reads (crm_* and up)."""
    return {m for e in expressions for m in _NAME.findall(e)}


def exposed_names(metrics_text: str) -> set[str]:
    """Every name /metrics exposes: families (HELP lines, even with no sample yet) and each
    sample's name (a histogram's _bucket/_sum/_count, a counter's _total)."""
    names: set[str] = set()
    for line in metrics_text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            name, kind = line.split()[2], line.split()[-1]
            names.add(name)
            if line.startswith("# TYPE ") and kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
            if line.startswith("# TYPE ") and kind == "counter":
                names.add(f"{name}_total")
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names
