"""The compose file and the Kubernetes manifests are valid for their tools, offline."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.database import PROJECT_ROOT

K8S = PROJECT_ROOT / "deploy" / "k8s"


def _resources(kustomization: Path) -> list[Path]:
    spec = yaml.safe_load(kustomization.read_text())
    return [kustomization.parent / name for name in spec["resources"] if not name.startswith("..")]


def test_compose_file_is_valid_with_an_env_file_like_the_example(tmp_path: Path) -> None:
    shutil.copy(PROJECT_ROOT / "docker-compose.yml", tmp_path)
    example = (PROJECT_ROOT / ".env.example").read_text()
    filled = "\n".join(f"{line}x" if line.endswith("=") else line for line in example.splitlines())
    (tmp_path / ".env").write_text(filled + "\n")
    for profile in ([], ["--profile", "emulator"]):
        result = subprocess.run(
            ["docker-compose", *profile, "config", "-q"], cwd=tmp_path, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr


def test_compose_file_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    shutil.copy(PROJECT_ROOT / "docker-compose.yml", tmp_path)
    (tmp_path / ".env").write_text("")
    result = subprocess.run(
        ["docker-compose", "config", "-q"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


@pytest.mark.parametrize(
    "kustomization", [K8S / "base" / "kustomization.yaml", K8S / "overlays" / "region1" / "kustomization.yaml"]
)
def test_kubernetes_manifests_pass_strict_schema_validation(kustomization: Path) -> None:
    files = [str(path) for path in _resources(kustomization)]
    result = subprocess.run(
        [str(Path(sys.executable).with_name("kubernetes-validate")), "--strict", "--quiet", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_overlay_names_only_resources_the_base_defines() -> None:
    base_names = {
        doc["metadata"]["name"]
        for path in _resources(K8S / "base" / "kustomization.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    }
    overlay = yaml.safe_load((K8S / "overlays" / "region1" / "kustomization.yaml").read_text())
    assert {item["name"] for item in overlay["replicas"]} <= base_names


def test_every_deployment_has_probes_resources_and_a_disruption_budget() -> None:
    docs = [
        doc
        for path in _resources(K8S / "base" / "kustomization.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]
    deployments = [doc for doc in docs if doc["kind"] == "Deployment"]
    budgets = {
        doc["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for doc in docs
        if doc["kind"] == "PodDisruptionBudget"
    }
    assert len(deployments) == 3
    for deployment in deployments:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert {"readinessProbe", "livenessProbe", "resources"} <= set(container)
        assert deployment["metadata"]["name"] in budgets
