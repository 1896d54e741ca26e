"""cluster.yaml passes Ray's own cluster-launcher preparation and schema validation (the checks
`ray up` runs before it touches any machine)."""
from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

CLUSTER_YAML = Path(__file__).resolve().parents[2] / "cluster.yaml"


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load(CLUSTER_YAML.read_text())


def test_cluster_yaml_is_valid_for_ray(raw):
    prepared = prepare_config(copy.deepcopy(raw))
    validate_config(prepared)
    assert prepared["provider"]["type"] == "local"
    node_type = prepared["available_node_types"][prepared["head_node_type"]]
    assert node_type["min_workers"] == node_type["max_workers"] == len(raw["provider"]["worker_ips"])


def test_on_prem_shape_and_project_install(raw):
    assert "available_node_types" not in raw and "head_node_type" not in raw  # local provider aborts
    assert raw["provider"]["head_ip"] and raw["provider"]["worker_ips"]
    assert any("pip install" in c and "-e ~/kis-backbone" in c for c in raw["setup_commands"])
    assert raw["file_mounts"]["~/kis-backbone"] == "."
    starts = " ".join(raw["head_start_ray_commands"] + raw["worker_start_ray_commands"])
    assert starts.count("RAY_AUTH_MODE=token") == 2


def test_validation_rejects_a_broken_file(raw):
    bad = prepare_config(copy.deepcopy(raw))
    bad["setup_commands"] = "pip install ."  # must be a list
    with pytest.raises(jsonschema.ValidationError):
        validate_config(bad)
