"""Outbound calls to upstreams reach public addresses only, judged on the
addresses a name resolves to, unless SMMPANEL_ALLOW_PRIVATE_UPSTREAMS=1."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from smmpanel.client import ErrorKind, ProviderClient, UpstreamError
from smmpanel.client.guard import refused_address
from smmpanel.settings import Settings, SettingsError
from smmpanel.simulator import SimulatorServer, create_simulator

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "::1", "::", "fe80::1", "fd00:ec2::254", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
])
def test_non_public_addresses_are_refused(address):
    assert refused_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address):
    assert not refused_address(address)


async def test_a_name_resolving_to_loopback_is_refused_before_anything_is_sent():
    sim = create_simulator("standard")
    with SimulatorServer(sim) as server:
        by_name = server.url.replace("127.0.0.1", "localhost")
        async with ProviderClient(by_name, sim.key, timeout_s=2) as client:
            with pytest.raises(UpstreamError) as refused:
                await client.balance()
        assert refused.value.kind is ErrorKind.UNREACHABLE  # never sent: safe, and said so
        assert "non-public address" in str(refused.value) and "SMMPANEL_ALLOW_PRIVATE_UPSTREAMS" in str(refused.value)
        assert sim.key not in str(refused.value)
        assert not sim.requests  # nothing reached the upstream
        async with ProviderClient(by_name, sim.key, timeout_s=2, allow_private=True) as client:
            assert (await client.balance()).amount > 0


def test_the_setting_is_validated():
    assert Settings.from_env({}).allow_private_upstreams is False
    assert Settings.from_env({"SMMPANEL_ALLOW_PRIVATE_UPSTREAMS": "1"}).allow_private_upstreams is True
    with pytest.raises(SettingsError, match="SMMPANEL_ALLOW_PRIVATE_UPSTREAMS"):
        Settings.from_env({"SMMPANEL_ALLOW_PRIVATE_UPSTREAMS": "yes"})


def test_the_operator_is_told_when_an_upstream_is_private(sqlite_url):
    sim = create_simulator("shopvn")
    env = {"SMMPANEL_DATABASE_URL": sqlite_url, "SMMPANEL_SECRET": "s", "SMMPANEL_ALLOW_PRIVATE_UPSTREAMS": "0"}
    with SimulatorServer(sim) as server:
        refused = run_cli(env, "providers", "add", "lan", "--url", server.url, "--key", sim.key, "--json")
        assert refused.returncode != 0 and "SMMPANEL_ALLOW_PRIVATE_UPSTREAMS" in refused.stdout + refused.stderr
        allowed = run_cli({**env, "SMMPANEL_ALLOW_PRIVATE_UPSTREAMS": "1"}, "providers", "add", "lan", "--url",
                          server.url, "--key", sim.key, "--json")
        assert allowed.returncode == 0, allowed.stdout + allowed.stderr
        assert json.loads(allowed.stdout)["name"] == "lan"
