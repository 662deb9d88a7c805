"""ZeroMQ endpoints and listening addresses: parsed once, and whether they can be reached from
other machines (loopback or not), which decides whether authentication is required."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

TRANSPORTS = ("tcp", "ipc", "inproc")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_TCP = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[^:\[\]]+):(?P<port>\*|\d+)$")
EXAMPLES = "tcp://127.0.0.1:5556, tcp://0.0.0.0:5556 or ipc:///tmp/actionstream.sock"


class EndpointError(ValueError):
    """Not an endpoint this program can use; the message shows what would be."""


@dataclass(frozen=True)
class Endpoint:
    """``transport://address``: for tcp ``host`` and ``port`` (0 for ``*``), else ``path``."""

    transport: str
    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        if self.transport != "tcp":
            return f"{self.transport}://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port or '*'}"

    @property
    def is_local(self) -> bool:
        """True when only this machine can reach it (ipc, inproc, a loopback tcp address)."""
        return self.transport != "tcp" or is_loopback_host(self.host)


def parse_endpoint(text: str, *, bind: bool) -> Endpoint:
    """``tcp://HOST:PORT`` (``*`` host, ``*`` or 0 port when binding), ``ipc://PATH`` or ``inproc://NAME``."""
    transport, sep, rest = text.partition("://")
    if not sep or transport not in TRANSPORTS or not rest:
        raise EndpointError(f"{text!r} is not a ZeroMQ endpoint; expected an endpoint like {EXAMPLES}")
    if transport != "tcp":
        return Endpoint(transport, path=rest)
    match = _TCP.match(rest)
    if match is None:
        raise EndpointError(f"{text!r}: expected tcp://HOST:PORT, e.g. tcp://127.0.0.1:5556")
    host, port_text = match.group("host").strip("[]"), match.group("port")
    if host == "*":
        if not bind:
            raise EndpointError(f"{text!r}: '*' only makes sense when binding; give the host to connect to")
        host = "0.0.0.0"  # noqa: S104 - '*' is ZeroMQ's word for every interface
    if port_text == "*":
        if not bind:
            raise EndpointError(f"{text!r}: give the port to connect to, not '*'")
        port = 0
    else:
        port = int(port_text)
        lowest = 0 if bind else 1  # binding to port 0, like '*', takes any free port
        if not lowest <= port <= 65535:
            raise EndpointError(f"{text!r}: the port must be {lowest}..65535, got {port}")
    return Endpoint("tcp", host=host, port=port)


def is_loopback_host(host: str) -> bool:
    """127.0.0.0/8, ::1 and the usual names of localhost; anything else (0.0.0.0, a LAN address, a
    host name) may be reachable from other machines."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
