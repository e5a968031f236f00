"""docker-compose.yml cannot be started here (no Docker engine): check it parses and that every
service's command names a module that exists."""

import importlib.util
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]


def test_compose_file_parses_and_every_command_names_a_real_module():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "migrate", "ingest", "validation", "feedback", "reports", "scheduler", "sandbox"} <= set(
        services
    )
    assert services["postgres"]["image"] == "postgres:16" and "healthcheck" in services["postgres"]
    assert services["sandbox"]["profiles"] == ["demo"]
    for name, service in services.items():
        command = service.get("command")
        if not command:
            continue
        assert command[:2] == ["python", "-m"], name
        module = command[2]
        assert importlib.util.find_spec(module) is not None, f"{name}: no module {module}"
        if module == "streamlit":
            assert (ROOT / command[4]).exists(), f"{name}: no file {command[4]}"
