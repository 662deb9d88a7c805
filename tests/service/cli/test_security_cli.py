"""The command line's security rules in real processes: an unauthenticated non-loopback address
is refused with one line (exit 2) unless --insecure; a password on the command line is warned
about; `actionstream keys` makes the secrets; `subscribe` with and without CURVE keys."""

from __future__ import annotations

import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import zmq

from service.outputs.curve import CurveServer, load_public_key, load_public_keys, load_secret_key
from service.outputs.publisher import Publisher
from tests.prometheus_server import free_port

pytestmark = pytest.mark.slow  # each case starts the CLI in a new process


def cli(
    argv: list[str], env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*argv, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["serve", "--source", "clip.mp4", "--http-host", "0.0.0.0"], "http.host 0.0.0.0"),
        (
            ["serve", "--source", "clip.mp4", "--zmq-bind", "tcp://0.0.0.0:5599"],
            "zmq.bind tcp://0.0.0.0:5599",
        ),
        (["web", "--host", "0.0.0.0", "--port", "0"], "http.host 0.0.0.0"),
        (
            ["proxy", "--bind", "tcp://0.0.0.0:5598", "--upstream", "tcp://127.0.0.1:5597"],
            "--bind tcp://0.0.0.0",
        ),
    ],
)
def test_unauthenticated_off_loopback_is_refused_in_one_line(
    cli_argv: list[str], cli_env: dict[str, str], args: list[str], says: str
) -> None:
    res = cli(cli_argv, cli_env, *args)
    assert res.returncode == 2, res.stderr
    line = last_line(res.stderr)
    assert says in line and "--insecure" in line and "actionstream keys DIR" in line, line
    assert "Traceback" not in res.stderr


def test_a_password_on_the_command_line_is_warned_about(cli_argv: list[str], cli_env: dict[str, str]) -> None:
    res = cli(
        cli_argv, cli_env, "serve", "--source", "rtsp://admin:hunter2@10.0.0.9/live", "--http-host", "0.0.0.0"
    )
    assert res.returncode == 2
    assert "--source holds a password" in res.stderr and "ACTIONSTREAM_CAMERAS__0__SOURCE" in res.stderr
    assert "hunter2" not in res.stderr


def test_subscribe_to_an_impossible_port_is_a_usage_error(
    cli_argv: list[str], cli_env: dict[str, str]
) -> None:
    res = cli(cli_argv, cli_env, "subscribe", "tcp://127.0.0.1:99999", "--timeout", "1")
    assert res.returncode == 2
    assert "the port must be 1..65535, got 99999" in last_line(res.stderr)
    res = cli(cli_argv, cli_env, "subscribe", "tcp://*:5556")
    assert res.returncode == 2 and "give the host to connect to" in res.stderr


def test_keys_makes_the_secrets_once(cli_argv: list[str], cli_env: dict[str, str], tmp_path: Path) -> None:
    d = tmp_path / "keys"
    res = cli(cli_argv, cli_env, "keys", str(d), "--client", "alice", "--client", "bob")
    assert res.returncode == 0, res.stderr
    assert "zmq.curve_secret_key_file" in res.stdout and "http.token_file" in res.stdout
    names = sorted(p.name for p in d.iterdir())
    pairs = [f"{name}{suffix}" for name in ("server", "alice", "bob") for suffix in (".key", ".key_secret")]
    assert names == sorted([*pairs, "authorized_keys", "http-token"])
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    for secret in ("server.key_secret", "alice.key_secret", "http-token", "authorized_keys"):
        assert stat.S_IMODE((d / secret).stat().st_mode) == 0o600, secret
    assert len(load_public_keys(d / "authorized_keys")) == 2
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    res = cli(cli_argv, cli_env, "keys", str(d), "--client", "carol")
    assert res.returncode == 0
    after = {p.name: p.read_bytes() for p in d.iterdir()}
    assert all(after[name] == data for name, data in before.items() if name != "authorized_keys"), "kept"
    assert len(load_public_keys(d / "authorized_keys")) == 3
    res = cli(cli_argv, cli_env, "keys", str(d), "--client", "server")
    assert res.returncode == 2
    res = cli(cli_argv, cli_env, "keys", "--public-of", str(d / "server.key_secret"))
    assert res.returncode == 0 and res.stdout.strip().encode() == load_public_key(d / "server.key")


def test_subscribe_with_curve_keys(cli_argv: list[str], cli_env: dict[str, str], tmp_path: Path) -> None:
    d = tmp_path / "keys"
    assert cli(cli_argv, cli_env, "keys", str(d)).returncode == 0
    server = CurveServer(
        load_secret_key(d / "server.key_secret"), frozenset(load_public_keys(d / "authorized_keys"))
    )
    ctx: zmq.Context[Any] = zmq.Context()
    pub = Publisher(f"tcp://127.0.0.1:{free_port()}", context=ctx, curve=server)
    pub.start()
    try:
        keys = ["--server-key", str(d / "server.key"), "--client-key", str(d / "subscriber.key_secret")]
        keyed = [*cli_argv, "subscribe", pub.endpoint or "", "--count", "3", "--timeout", "60", *keys]
        keyless = [*cli_argv, "subscribe", pub.endpoint or "", "--count", "1", "--timeout", "8"]
        procs = [
            subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env)
            for cmd in (keyed, keyless)
        ]
        while any(p.poll() is None for p in procs):
            pub.publish("action.cam0", {"type": "update", "camera": "cam0"})
            time.sleep(0.05)
        (out_k, err_k), (out_n, err_n) = (p.communicate() for p in procs)
    finally:
        pub.close(linger=0)
        ctx.term()
    assert procs[0].returncode == 0, err_k
    assert len(out_k.splitlines()) == 3
    assert procs[1].returncode == 1 and out_n == "", "no key, no events"
    assert "the service requires CURVE" in err_n, err_n
