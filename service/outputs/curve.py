"""ZeroMQ CURVE: the keys (from files or Z85 text) and the sockets that use them.

A key is a Curve25519 key in ZeroMQ's Z85 text form (40 characters). A key *file* is either a
ZeroMQ certificate as ``zmq.auth`` and ``actionstream keys`` write them (``name.key`` holds the
public key, ``name.key_secret`` the public and the secret key) or a file holding just the Z85 key.
An authorized-keys file lists one Z85 public key per line (the first word of the line; a line
starting with ``#`` is a comment); a directory of ``*.key`` certificates works too.

A server accepts a client when the client's public key is in its allow-list, checked by a ZAP
handler (``zmq.auth.thread.ThreadAuthenticator``) on the server's context. The server's own public
key is always allowed: whoever holds the server's secret key could impersonate the server anyway,
and it lets a proxy that shares the keypair of the shards behind it connect to them.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

log = logging.getLogger(__name__)

ZAP_DOMAIN = "actionstream"
_REFUSAL_LOG_EVERY_S = 10.0
_Z85 = re.compile(r"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")


class CurveKeyError(ValueError):
    """A key or key file is missing, unreadable or not a Curve25519 key; the message says which."""


def parse_key(text: str | bytes, what: str = "key") -> bytes:
    """A Z85 key (40 characters) as the bytes ZeroMQ's socket options take."""
    value = text.decode("ascii", "replace") if isinstance(text, bytes) else text
    value = value.strip()
    if not _Z85.match(value):
        raise CurveKeyError(
            f"{what} is not a Z85 Curve25519 key (40 characters; `actionstream keys DIR` makes them)"
        )
    try:
        if len(z85.decode(value.encode("ascii"))) != 32:
            raise ValueError(value)
    except ValueError:
        raise CurveKeyError(f"{what} is not a valid Z85 key") from None
    return value.encode("ascii")


def public_key_of(secret_key: bytes) -> bytes:
    """The public key that belongs to a Z85 secret key."""
    return bytes(zmq.curve_public(secret_key))


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CurveKeyError(f"{what} file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CurveKeyError(f"{what} file {path} cannot be read: {exc}") from None


def _is_certificate(text: str) -> bool:
    return any(line.strip().startswith(("public-key", "secret-key")) for line in text.splitlines())


def load_secret_key(path: str | Path) -> bytes:
    """The Z85 secret key in ``path`` (a ``*.key_secret`` certificate, or a file with just the key)."""
    path = Path(path)
    text = _read(path, "secret key")
    if not _is_certificate(text):
        return parse_key(text, f"the secret key in {path}")
    try:
        _, secret = zmq.auth.load_certificate(path)
    except ValueError as exc:
        raise CurveKeyError(f"{path}: {exc}") from None
    if secret is None:
        raise CurveKeyError(
            f"{path} holds only a public key: give the matching *.key_secret file for a secret key"
        )
    return parse_key(secret, f"the secret key in {path}")


def load_public_key(path: str | Path) -> bytes:
    """The Z85 public key in ``path`` (a certificate, public or secret, or a file with just the key)."""
    path = Path(path)
    text = _read(path, "public key")
    if not _is_certificate(text):
        return parse_key(text, f"the public key in {path}")
    try:
        public, _ = zmq.auth.load_certificate(path)
    except ValueError as exc:
        raise CurveKeyError(f"{path}: {exc}") from None
    return parse_key(public, f"the public key in {path}")


def load_public_keys(path: str | Path) -> list[bytes]:
    """Public keys from an authorized-keys file (one per line) or a directory of ``*.key`` files."""
    path = Path(path)
    if path.is_dir():
        return [load_public_key(p) for p in sorted(path.glob("*.key"))]
    text = _read(path, "authorized keys")
    if _is_certificate(text):
        return [load_public_key(path)]
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        # "KEY  # comment": the key is the first word ('#' is also a Z85 character)
        words = line.split()
        if words and not words[0].startswith("#"):
            keys.append(parse_key(words[0], f"line {number} of {path}"))
    return keys


@dataclass(frozen=True)
class CurveServer:
    """A server keypair and the clients it lets in (Z85 bytes)."""

    secret_key: bytes
    client_keys: frozenset[bytes] = field(default_factory=frozenset)

    @property
    def public_key(self) -> bytes:
        return public_key_of(self.secret_key)

    def allows(self, client_key: bytes) -> bool:
        return client_key in self.client_keys or client_key == self.public_key

    def apply(self, sock: zmq.Socket[Any]) -> None:
        """Make ``sock`` a CURVE server (before it binds or connects)."""
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.secret_key)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.public_key)
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN.encode())


@dataclass(frozen=True)
class CurveClient:
    """A client keypair and the public key of the server it talks to (Z85 bytes)."""

    secret_key: bytes
    server_key: bytes

    def apply(self, sock: zmq.Socket[Any]) -> None:
        """Make ``sock`` a CURVE client of the server (before it connects)."""
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.secret_key)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, public_key_of(self.secret_key))
        sock.setsockopt(zmq.CURVE_SERVERKEY, self.server_key)


def curve_server(secret_key: str | bytes, client_keys: Iterable[str | bytes] = ()) -> CurveServer:
    """A :class:`CurveServer` from Z85 text, each key checked."""
    return CurveServer(
        parse_key(secret_key, "the CURVE secret key"),
        frozenset(parse_key(k, "a CURVE client key") for k in client_keys),
    )


class _Allowed:
    """The ZAP credentials provider: a client key is let in when the server allows it."""

    def __init__(self, server: CurveServer) -> None:
        self._server = server
        self._refused = 0
        self._logged_at = -math.inf

    def callback(self, domain: str, key: bytes) -> bool:
        allowed = self._server.allows(key)
        if not allowed:
            self._refused += 1
            now = time.monotonic()
            if now - self._logged_at >= _REFUSAL_LOG_EVERY_S:  # a refused client retries every 0.1 s
                self._logged_at = now
                log.warning(
                    "refused ZeroMQ clients whose CURVE key is not authorized (%d so far; last: %s)",
                    self._refused,
                    key.decode("ascii", "replace"),
                )
        return allowed


class Authenticator:
    """The ZAP handler of one context: checks each CURVE client against ``server``'s allow-list.

    Start it before any CURVE server socket of that context binds: without a handler, ZeroMQ lets
    every client that knows the server's public key in.
    """

    def __init__(self, context: zmq.Context[Any], server: CurveServer) -> None:
        self._auth = ThreadAuthenticator(context, log=logging.getLogger(f"{__name__}.zap"))
        self._server = server

    def start(self) -> None:
        self._auth.start()
        self._auth.configure_curve_callback(domain=ZAP_DOMAIN, credentials_provider=_Allowed(self._server))

    def stop(self) -> None:
        self._auth.stop()
