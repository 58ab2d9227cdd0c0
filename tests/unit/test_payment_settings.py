"""Bank-transfer settings: validated at start, each error naming its variable."""

from decimal import Decimal

import pytest

from smmpanel.settings import Settings, SettingsError

BANK = {"SMMPANEL_VIETQR_BIN": "970415", "SMMPANEL_VIETQR_ACCOUNT": "0011001932418",
        "SMMPANEL_VIETQR_NAME": "CONG TY SMM"}


def test_bank_transfer_is_off_without_its_settings():
    settings = Settings.from_env({})
    assert settings.bank is None and settings.sepay_api_key is None


def test_a_vnd_panel_credits_dong_for_dong_with_the_defaults():
    settings = Settings.from_env({**BANK, "SMMPANEL_CURRENCY": "VND", "SMMPANEL_SEPAY_API_KEY": "k3y"})
    assert (settings.bank.prefix, settings.bank.min_vnd, settings.bank.vnd_rate) == ("SMM", 10_000, Decimal(1))
    assert settings.sepay_api_key == "k3y"
    assert "k3y" not in repr(settings)


def test_a_usd_panel_takes_the_configured_rate_exactly():
    settings = Settings.from_env({**BANK, "SMMPANEL_VND_RATE": "0.0000393", "SMMPANEL_DEPOSIT_PREFIX": "nap",
                                  "SMMPANEL_DEPOSIT_MIN_VND": "20000"})
    assert settings.bank.vnd_rate == Decimal("0.0000393")
    assert (settings.bank.prefix, settings.bank.min_vnd) == ("NAP", 20_000)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SMMPANEL_VIETQR_BIN": "970415"}, "SMMPANEL_VIETQR_ACCOUNT"),
        ({**BANK, "SMMPANEL_VIETQR_BIN": "9704"}, "SMMPANEL_VIETQR_BIN"),
        ({**BANK, "SMMPANEL_VIETQR_ACCOUNT": "0011-0019"}, "SMMPANEL_VIETQR_ACCOUNT"),
        ({**BANK}, "SMMPANEL_VND_RATE"),  # USD panel: the rate is required
        ({**BANK, "SMMPANEL_VND_RATE": "abc"}, "SMMPANEL_VND_RATE"),
        ({**BANK, "SMMPANEL_VND_RATE": "-0.00004"}, "SMMPANEL_VND_RATE"),
        ({**BANK, "SMMPANEL_CURRENCY": "VND", "SMMPANEL_VND_RATE": "2"}, "SMMPANEL_VND_RATE"),
        ({**BANK, "SMMPANEL_CURRENCY": "VND", "SMMPANEL_DEPOSIT_PREFIX": "SM-M"}, "SMMPANEL_DEPOSIT_PREFIX"),
        ({**BANK, "SMMPANEL_CURRENCY": "VND", "SMMPANEL_DEPOSIT_MIN_VND": "10k"}, "SMMPANEL_DEPOSIT_MIN_VND"),
        ({"SMMPANEL_SEPAY_API_KEY": "k3y"}, "SMMPANEL_SEPAY_API_KEY"),
    ],
)
def test_a_bad_value_stops_the_start_naming_the_variable(env, variable):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env)
    assert str(refused.value).startswith(variable)
    assert "k3y" not in str(refused.value)
