"""`outside`: the tests of the webhook egress guard run with a stub resolver (names the
test maps, nothing from real DNS) and with every connection to an address that is not
loopback refused before a packet leaves and recorded, so a broken guard fails the test
instead of reaching 10.x or 169.254.169.254."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class Outside:
    """What the stub resolver answers (each name's answers in turn, the last one repeated)
    and the connections it refused."""

    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    refused: list[tuple[str, int]] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)

    def resolve(self, name: str, *answers: list[str]) -> None:
        self.answers[name.lower()] = list(answers)

    def next_answer(self, name: str) -> list[str] | None:
        answers = self.answers.get(name.lower().rstrip("."))
        if not answers:
            return None
        return answers.pop(0) if len(answers) > 1 else answers[0]


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@pytest.fixture
def outside(monkeypatch: pytest.MonkeyPatch) -> Iterator[Outside]:
    net = Outside()
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        # anyio (httpx's connections) passes the name IDNA-encoded, as bytes.
        name = host.decode("idna") if isinstance(host, bytes) else host
        if name is None or _literal(name) or name == "localhost":
            return real_getaddrinfo(host, port, *args, **kwargs)
        host = name
        net.lookups.append(host)
        answer = net.next_answer(host)
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (test stub)")
        infos = []
        for address in answer:
            ip = ipaddress.ip_address(address)
            family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            sockaddr = (address, int(port or 0)) + ((0, 0) if ip.version == 6 else ())
            infos.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return infos

    def allowed(sock: socket.socket, address: Any) -> bool:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return True
        if ipaddress.ip_address(str(address[0]).split("%", 1)[0]).is_loopback:
            return True
        net.refused.append((str(address[0]), int(address[1])))
        return False

    def connect(sock: socket.socket, address: Any) -> None:
        if not allowed(sock, address):
            raise ConnectionRefusedError("the test refuses connections outside loopback")
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        if not allowed(sock, address):
            return 111  # ECONNREFUSED
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield net
    assert net.refused == [], f"connections outside loopback were attempted: {net.refused}"
