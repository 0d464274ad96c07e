"""Where a webhook may go: never inside (server-side request forgery).

A subscription's URL is the client's choice, and the worker POSTs to it from inside the
network, so an address that is not public — loopback, private, link-local (where cloud
metadata services answer: 169.254.169.254, fd00:ec2::254), unspecified, multicast, reserved,
or such an address inside an IPv6 one (::ffff:10.0.0.1) — is refused unless the operator's
allow-list names the host or a network holding the address (`webhook_allowed_hosts`,
`webhook_allowed_networks`). Only http and https.

Checked twice: when a URL is registered (a clear 422 at once; a name that does not resolve
yet is accepted) and on every delivery attempt. A check followed by a connection that
resolves the name again would be open to DNS rebinding (the name answers a public address
to the check and 127.0.0.1 to the connection), so the delivery client's connections go
through `GuardedBackend`: it resolves the name once, checks every address, and connects to
a checked address itself. httpx still speaks to the name (Host header, TLS SNI and
certificate checks are the name's), and keeps a connection only for that name. Redirects are
not followed (a 3xx is a failed attempt), and proxies from the environment are not used.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import httpcore
import httpx

from obligation_tracker.settings import Settings

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

SCHEMES = ("http", "https")
ALLOW_HINT = "OBLIGATION_TRACKER_WEBHOOK_ALLOWED_HOSTS / _ALLOWED_NETWORKS"
# Metadata services at public addresses (the link-local and private ones are refused as such).
METADATA = {ipaddress.ip_address("168.63.129.16"): "cloud metadata (Azure)"}
# What an address is, in the order it is named: the first that holds explains the refusal.
_KINDS = (
    ("is_unspecified", "unspecified"),
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local (cloud metadata)"),
    ("is_multicast", "multicast"),
    ("is_reserved", "reserved"),
    ("is_private", "private"),
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class EgressRefused(Exception):
    """The URL names, or its host resolves to, an address webhooks may not reach."""


class Unresolvable(Exception):
    """The host does not resolve (now): nothing to check, nothing to connect to."""


def _embedded_ipv4(ip: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64), if any."""
    if isinstance(ip, IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def non_public_kind(ip: IPAddress) -> str | None:
    """Why the address is not a public one ("loopback", "private", ...), or None."""
    inner = _embedded_ipv4(ip)
    if inner is not None:
        kind = non_public_kind(inner)
        return f"{kind} (as {ip})" if kind else None
    if ip in METADATA:
        return METADATA[ip]
    for attribute, kind in _KINDS:
        if getattr(ip, attribute):
            return kind
    return None if ip.is_global else "non-public"


@dataclass(frozen=True)
class EgressPolicy:
    """Public addresses, and the operator's exceptions."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, hosts: Iterable[str], networks: Iterable[IPNetwork]) -> EgressPolicy:
        return cls(frozenset(h.lower().rstrip(".") for h in hosts), tuple(networks))

    def refusal(self, host: str, ip: IPAddress) -> str | None:
        """Why `host`, resolved to `ip`, may not be reached; None when it may."""
        if host.lower().rstrip(".") in self.allowed_hosts:
            return None
        inner = _embedded_ipv4(ip)
        if any(a in net for net in self.allowed_networks for a in (ip, inner) if a is not None):
            return None
        kind = non_public_kind(ip)
        if kind is None:
            return None
        named = str(ip) if _literal(host) == ip else f"{host} resolves to {ip}, which"
        return (
            f"{named} is a {kind} address; webhooks reach public addresses only "
            f"(exceptions: {ALLOW_HINT})"
        )


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host has now (an address as itself), in the resolver's order."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"{host} does not resolve: {exc}") from exc
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])  # no IPv6 scope id
        if ip not in found:
            found.append(ip)
    if not found:
        raise Unresolvable(f"{host} has no address")
    return found


async def checked_addresses(policy: EgressPolicy, host: str, port: int) -> list[IPAddress]:
    """The host's addresses, once every one of them is allowed (EgressRefused otherwise:
    one address inside is enough, the resolver may hand out any of them)."""
    addresses = await resolve(host, port)
    for ip in addresses:
        reason = policy.refusal(host, ip)
        if reason is not None:
            raise EgressRefused(reason)
    return addresses


def target(url: str) -> tuple[str, int]:
    """The host and port a webhook URL names; EgressRefused for a scheme other than http(s)."""
    parsed = httpx.URL(url)
    if parsed.scheme not in SCHEMES or not parsed.host:
        raise EgressRefused("a webhook URL is http or https, with a host")
    return parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80)


async def check_url(policy: EgressPolicy, url: str) -> None:
    """EgressRefused unless every address the URL's host has now is allowed; Unresolvable
    when it has none."""
    host, port = target(url)
    await checked_addresses(policy, host, port)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses it checked itself."""

    def __init__(self, policy: EgressPolicy, inner: httpcore.AsyncNetworkBackend) -> None:
        self._policy = policy
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(checked_addresses(self._policy, host, port), timeout)
        except (EgressRefused, Unresolvable) as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        error: Exception = httpcore.ConnectError(f"{host}: no address")
        for ip in addresses:  # the checked addresses, and no other
            try:
                return await self._inner.connect_tcp(
                    str(ip), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks do not use Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool on `GuardedBackend`. httpx does not take
    a network backend itself, so the pool it built is replaced by an equal one that has it
    (tests/unit/test_egress.py checks that the pool in use is the guarded one)."""

    def __init__(
        self, policy: EgressPolicy, *, limits: httpx.Limits | None = None, verify: bool = True
    ) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        super().__init__(trust_env=False, limits=limits, verify=verify)
        ssl_context: ssl.SSLContext = httpx.create_ssl_context(verify=verify, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy, httpcore.AnyIOBackend()),
        )


def refusal_of(exc: BaseException) -> str | None:
    """The guard's reason when an httpx error comes from it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, EgressRefused | Unresolvable):
            return str(current)
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def policy_for(settings: Settings) -> EgressPolicy:
    return EgressPolicy.of(settings.webhook_allowed_hosts, settings.webhook_allowed_networks)
