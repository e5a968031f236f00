import pytest

from leadrelay.settings import Settings, SettingsError


def test_defaults_need_no_environment():
    s = Settings.from_env({})
    assert s.database_url == ""
    assert (s.ingest_grpc_port, s.validation_grpc_port, s.feedback_grpc_port) == (50051, 50052, 50053)
    assert (s.ingest_http_port, s.reports_port, s.sandbox_port) == (8080, 8501, 8090)


def test_reads_typed_values_from_the_mapping():
    s = Settings.from_env(
        {"INGEST_GRPC_PORT": "6000", "LEADRELAY_MIGRATE_ON_START": "false", "LEADRELAY_GRPC_GRACE_SECONDS": "1.5"}
    )
    assert s.ingest_grpc_port == 6000
    assert s.migrate_on_start is False
    assert s.grpc_grace_seconds == 1.5


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"INGEST_GRPC_PORT": "fifty"}, "INGEST_GRPC_PORT"),
        ({"LEADRELAY_MIGRATE_ON_START": "maybe"}, "LEADRELAY_MIGRATE_ON_START"),
        ({"LEADRELAY_LOG_FORMAT": "xml"}, "LEADRELAY_LOG_FORMAT"),
    ],
)
def test_bad_value_names_the_variable(env, named):
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


def test_every_setting_is_documented_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [name for name, _, _ in Settings.documented() if f"`{name}`" not in readme]
    assert missing == []
