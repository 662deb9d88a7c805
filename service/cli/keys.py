"""`actionstream keys DIR`: the secrets that turn authentication on, made once and kept.

Writes into DIR (created with mode 0700; secret files 0600; an existing file is never replaced,
so running it again only adds what is missing):

- ``server.key`` / ``server.key_secret``: the service's CURVE keypair (ZeroMQ certificate files);
- ``NAME.key`` / ``NAME.key_secret`` for each ``--client NAME`` (default: one called ``subscriber``);
- ``authorized_keys``: the clients' public keys, one per line, for ``zmq.curve_client_keys_file``;
- ``http-token``: a random access token for ``http.token_file``.

The files are flat (no sub-directories), so ``kubectl create secret generic NAME --from-file=DIR``
and Docker secrets take them as they are.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
from pathlib import Path
from typing import Any

import zmq.auth

from service.cli.common import UsageError
from service.outputs.curve import CurveKeyError, load_secret_key, public_key_of

SERVER = "server"
TOKEN = "http-token"  # noqa: S105 - a file name
AUTHORIZED = "authorized_keys"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "keys",
        help="make the CURVE keys and the HTTP token that turn authentication on",
        description=(
            "Create (or complete) a directory of secrets: the service's CURVE keypair, one keypair per "
            "--client, the authorized_keys list and an HTTP access token. Existing files are kept."
        ),
    )
    p.add_argument("dir", metavar="DIR", nargs="?", help="directory for the key files (created, mode 0700)")
    p.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="NAME",
        help="make a subscriber keypair NAME.key(_secret) and authorize it (repeatable; "
        "default on a new directory: 'subscriber')",
    )
    p.add_argument(
        "--public-of",
        metavar="FILE",
        help="print the public key of the secret key in FILE (e.g. the Helm chart's server.key_secret) "
        "and exit: what subscribers give as --server-key",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.public_of:
        try:
            print(public_key_of(load_secret_key(args.public_of)).decode("ascii"))
        except CurveKeyError as exc:
            raise UsageError(str(exc)) from None
        return 0
    if args.dir is None:
        raise UsageError("give the directory for the keys (or --public-of FILE)")
    directory = Path(args.dir)
    for name in args.client:
        if not _NAME.match(name) or name == SERVER:
            raise UsageError(
                f"--client {name!r}: use lowercase letters, digits, '_' and '-' (and not {SERVER!r})"
            )
    try:
        made = make_keys(directory, args.client)
    except OSError as exc:
        raise UsageError(f"cannot write the keys to {directory}: {exc.strerror or exc}") from None
    for line in made:
        print(line)
    d = directory
    print(
        f"\nserve: zmq.curve_secret_key_file: {d / (SERVER + '.key_secret')}\n"
        f"       zmq.curve_client_keys_file: {d / AUTHORIZED}\n"
        f"       http.token_file: {d / TOKEN}   (also for `actionstream web`)\n"
        f"subscribe: actionstream subscribe tcp://HOST:5556 --server-key {d / (SERVER + '.key')} "
        f"--client-key {d / 'NAME.key_secret'}"
    )
    return 0


def make_keys(directory: Path, clients: list[str]) -> list[str]:
    """Create what is missing in ``directory``; returns one line per file made or kept."""
    old_umask = os.umask(0o077)  # nothing made here is ever readable by others, not even briefly
    try:
        return _make_keys(directory, clients)
    finally:
        os.umask(old_umask)


def _make_keys(directory: Path, clients: list[str]) -> list[str]:
    new_dir = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    if new_dir:
        directory.chmod(0o700)
    lines = []
    if not clients and not any(directory.glob("*.key_secret")):
        clients = ["subscriber"]
    for name in [SERVER, *clients]:
        public, secret = directory / f"{name}.key", directory / f"{name}.key_secret"
        if secret.exists():
            lines.append(f"kept {secret}")
            continue
        zmq.auth.create_certificates(directory, name)
        secret.chmod(0o600)
        public.chmod(0o644)  # public keys may be handed out
        lines.append(f"made {public} and {secret}")
        if name != SERVER:
            key, _ = zmq.auth.load_certificate(public)
            with (directory / AUTHORIZED).open("a", encoding="ascii") as f:
                f.write(f"{key.decode('ascii')}  # {name}\n")
            lines.append(f"authorized {name} in {directory / AUTHORIZED}")
    token = directory / TOKEN
    if token.exists():
        lines.append(f"kept {token}")
    else:
        fd = os.open(token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
        lines.append(f"made {token}")
    return lines
