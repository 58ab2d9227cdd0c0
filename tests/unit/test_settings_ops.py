"""The operating settings are validated at start and named in the error."""

import pytest

from smmpanel.settings import Settings, SettingsError


@pytest.mark.parametrize("env, name", [
    ({"SMMPANEL_LOG_FORMAT": "xml"}, "SMMPANEL_LOG_FORMAT"),
    ({"SMMPANEL_LOG_LEVEL": "loud"}, "SMMPANEL_LOG_LEVEL"),
    ({"SMMPANEL_METRICS_TOKEN": "short"}, "SMMPANEL_METRICS_TOKEN"),
    ({"SMMPANEL_METRICS_TOKEN": "has a space inside it ok"}, "SMMPANEL_METRICS_TOKEN"),
])
def test_bad_value_names_the_setting(env, name):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(env)


def test_metrics_token_error_does_not_echo_the_secret():
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"SMMPANEL_METRICS_TOKEN": "s3cr3t"})
    assert "s3cr3t" not in str(refused.value)


def test_defaults_and_values():
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({}).metrics_token is None
    settings = Settings.from_env({"SMMPANEL_LOG_FORMAT": "JSON", "SMMPANEL_METRICS_TOKEN": "t" * 20})
    assert settings.log_format == "json" and settings.metrics_token == "t" * 20
    assert "t" * 20 not in repr(settings)
