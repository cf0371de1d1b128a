"""Redis Sentinel and Redis Cluster settings: one way to reach Redis, and every wrong combination refused with a message
naming the setting to fix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bigscreen.process.settings import Settings


@pytest.fixture(autouse=True)
def no_redis_in_the_environment(monkeypatch):
    import os

    for name in [n for n in os.environ if n.startswith("BIGSCREEN_REDIS")]:
        monkeypatch.delenv(name)


def test_sentinels_are_read_as_host_port_pairs():
    s = Settings(redis_sentinels="10.0.0.1:26379, sentinel-b:26380,[::1]:26381", redis_sentinel_master="bigscreen")
    assert s.sentinel_addresses == [("10.0.0.1", 26379), ("sentinel-b", 26380), ("::1", 26381)]
    assert s.redis_configured


@pytest.mark.parametrize(("settings", "named"), [
    ({"redis_sentinels": "a:26379"}, "BIGSCREEN_REDIS_SENTINEL_MASTER"),
    ({"redis_sentinels": "a:26379", "redis_sentinel_master": "m", "redis_url": "redis://a"}, "BIGSCREEN_REDIS_URL"),
    ({"redis_sentinels": "a", "redis_sentinel_master": "m"}, "BIGSCREEN_REDIS_SENTINELS: 'a'"),
    ({"redis_sentinels": "a:99999", "redis_sentinel_master": "m"}, "BIGSCREEN_REDIS_SENTINELS"),
    ({"redis_sentinels": " , ", "redis_sentinel_master": "m"}, "names no sentinel"),
    ({"redis_url": "redis://a", "redis_password": "x"}, "BIGSCREEN_REDIS_PASSWORD"),
    ({"redis_db": 3}, "BIGSCREEN_REDIS_DB"),
    ({"redis_sentinel_master": "m"}, "BIGSCREEN_REDIS_SENTINEL_MASTER"),
    ({"redis_cluster": "a:7000", "redis_url": "redis://a"}, "BIGSCREEN_REDIS_CLUSTER and BIGSCREEN_REDIS_URL"),
    ({"redis_cluster": "a:7000", "redis_sentinels": "a:26379", "redis_sentinel_master": "m"}, "BIGSCREEN_REDIS_SENTINELS"),
    ({"redis_cluster": "a:7000", "redis_db": 2}, "BIGSCREEN_REDIS_DB"),
    ({"redis_cluster": "a:7000,b"}, "BIGSCREEN_REDIS_CLUSTER: 'b'"),
    ({"redis_cluster": ","}, "BIGSCREEN_REDIS_CLUSTER names no node"),
])
def test_a_wrong_combination_names_the_setting(settings, named):
    with pytest.raises(ValidationError, match=named.replace("[", r"\[")):
        Settings(**settings)


def test_a_cluster_is_read_as_host_port_pairs_with_its_password():
    s = Settings(redis_cluster="10.0.0.1:7000, node-b:7001,[::1]:7002", redis_password="secret")
    assert s.cluster_addresses == [("10.0.0.1", 7000), ("node-b", 7001), ("::1", 7002)]
    assert s.redis_configured and s.redis_password.get_secret_value() == "secret"


def test_no_redis_given_means_the_embedded_one():
    assert not Settings().redis_configured


def test_the_command_names_the_setting_once(monkeypatch):
    from click.testing import CliRunner

    from bigscreen.cli import main

    monkeypatch.setenv("BIGSCREEN_REDIS_SENTINELS", "10.0.0.1:26379")
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code != 0
    assert "settings error: BIGSCREEN_REDIS_SENTINELS is set without BIGSCREEN_REDIS_SENTINEL_MASTER" in result.output
