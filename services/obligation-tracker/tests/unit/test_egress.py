"""The egress guard without a server: what is public, what the allow-list opens, and that the
delivery client's connections go through the guard to the address it checked."""

from __future__ import annotations

import ipaddress
import typing
from typing import Any

import httpcore
import httpx
import pytest

from obligation_tracker.settings import Settings
from obligation_tracker.webhooks import egress
from obligation_tracker.webhooks.egress import (
    EgressPolicy,
    EgressRefused,
    GuardedBackend,
    GuardedTransport,
    non_public_kind,
)

PUBLIC = EgressPolicy()


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local (cloud metadata)"),
        ("fe80::1", "link-local (cloud metadata)"),
        ("fd00:ec2::254", "private"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),  # shared address space (carrier NAT)
        ("100.100.100.200", "non-public"),  # Alibaba Cloud's metadata
        ("168.63.129.16", "cloud metadata (Azure)"),
        ("::ffff:127.0.0.1", "loopback (as ::ffff:7f00:1)"),
        ("::ffff:169.254.169.254", "link-local (cloud metadata) (as ::ffff:a9fe:a9fe)"),
        ("2002:a00:1::1", "private (as 2002:a00:1::1)"),  # 6to4 of 10.0.0.1
        ("64:ff9b::a00:1", "private (as 64:ff9b::a00:1)"),  # NAT64 of 10.0.0.1
        ("8.8.8.8", None),
        ("93.184.215.14", None),
        ("2001:4860:4860::8888", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_addresses_that_are_not_public_are_named_for_what_they_are(
    address: str, kind: str | None
) -> None:
    assert non_public_kind(ipaddress.ip_address(address)) == kind


def test_the_refusal_names_the_host_the_address_and_the_allow_list() -> None:
    reason = PUBLIC.refusal("hooks.internal", ipaddress.ip_address("10.0.0.7"))
    assert reason is not None
    assert reason.startswith("hooks.internal resolves to 10.0.0.7, which is a private address")
    assert "OBLIGATION_TRACKER_WEBHOOK_ALLOWED_HOSTS" in reason
    literal = PUBLIC.refusal("169.254.169.254", ipaddress.ip_address("169.254.169.254"))
    assert literal is not None and literal.startswith("169.254.169.254 is a link-local")
    assert PUBLIC.refusal("example.com", ipaddress.ip_address("93.184.215.14")) is None


def test_the_allow_list_opens_named_hosts_and_networks_only() -> None:
    policy = EgressPolicy.of(["Hooks.Internal."], [ipaddress.ip_network("10.20.0.0/16")])
    ten = ipaddress.ip_address("10.0.0.7")
    assert policy.refusal("hooks.internal", ten) is None  # the name, whatever it resolves to
    assert policy.refusal("other.internal", ten) is not None
    assert policy.refusal("x", ipaddress.ip_address("10.20.3.4")) is None
    assert policy.refusal("x", ipaddress.ip_address("::ffff:10.20.3.4")) is None  # mapped
    assert policy.refusal("x", ipaddress.ip_address("127.0.0.1")) is not None


def test_settings_take_comma_separated_allow_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBLIGATION_TRACKER_WEBHOOK_ALLOWED_HOSTS", "Hooks.Internal., erp.lan")
    monkeypatch.setenv("OBLIGATION_TRACKER_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8, fd00::/8")
    settings = Settings()
    assert settings.webhook_allowed_hosts == ["hooks.internal", "erp.lan"]
    assert [str(n) for n in settings.webhook_allowed_networks] == ["127.0.0.0/8", "fd00::/8"]
    assert Settings(webhook_allowed_networks="").webhook_allowed_networks == []


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://example.com", "http:///x"]
)
async def test_only_http_and_https_urls_with_a_host(url: str) -> None:
    with pytest.raises(EgressRefused, match="http or https"):
        await egress.check_url(PUBLIC, url)


async def test_ip_literals_are_checked_without_a_resolver(outside: Any) -> None:
    for url in ("http://127.0.0.1:8080/h", "http://[::1]/h", "https://[::ffff:10.0.0.1]/h"):
        with pytest.raises(EgressRefused):
            await egress.check_url(PUBLIC, url)
    await egress.check_url(PUBLIC, "https://93.184.215.14/h")
    assert outside.lookups == []


async def test_one_address_inside_is_enough_to_refuse_a_name(outside: Any) -> None:
    outside.resolve("split.test", ["93.184.215.14", "10.9.8.7"])
    with pytest.raises(EgressRefused, match=r"split\.test resolves to 10\.9\.8\.7"):
        await egress.check_url(PUBLIC, "https://split.test/h")
    with pytest.raises(egress.Unresolvable):
        await egress.check_url(PUBLIC, "https://nowhere.test/h")


class _Recording(httpcore.AsyncNetworkBackend):
    """An inner backend that connects nowhere and records where it was asked to."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.asked.append((host, port))
        raise httpcore.ConnectError("recorded, not connected")

    async def sleep(self, seconds: float) -> None:
        return None


async def test_the_backend_connects_to_the_address_it_checked_not_to_a_second_answer(
    outside: Any,
) -> None:
    # DNS rebinding: the first answer is public, every later one loopback. The backend asks
    # once and connects to what that answer held.
    outside.resolve("rebind.test", ["93.184.215.14"], ["127.0.0.1"])
    inner = _Recording()
    backend = GuardedBackend(PUBLIC, inner)
    with pytest.raises(httpcore.ConnectError, match="recorded"):
        await backend.connect_tcp("rebind.test", 443, timeout=5)
    assert inner.asked == [("93.184.215.14", 443)]
    # The next connection asks again, gets loopback, and connects nowhere.
    with pytest.raises(httpcore.ConnectError, match="loopback") as refused:
        await backend.connect_tcp("rebind.test", 443, timeout=5)
    assert isinstance(refused.value.__cause__, EgressRefused)
    assert inner.asked == [("93.184.215.14", 443)]
    assert outside.lookups == ["rebind.test", "rebind.test"]


async def test_the_delivery_client_connects_through_the_guard(outside: Any) -> None:
    transport = GuardedTransport(PUBLIC)
    pool = transport._pool
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    assert isinstance(pool._network_backend, GuardedBackend)
    outside.resolve("metadata.test", ["169.254.169.254"])
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError) as refused:
            await client.post("http://metadata.test/latest/meta-data", content=b"{}")
    assert egress.refusal_of(refused.value) == (
        "metadata.test resolves to 169.254.169.254, which is a link-local (cloud metadata) "
        "address; webhooks reach public addresses only (exceptions: "
        "OBLIGATION_TRACKER_WEBHOOK_ALLOWED_HOSTS / _ALLOWED_NETWORKS)"
    )
