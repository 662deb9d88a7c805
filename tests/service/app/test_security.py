"""The start-up rules: off loopback, HTTP needs a token and ZeroMQ needs CURVE unless --insecure;
keys and tokens come from files or the environment and a bad one is a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import zmq

from service.app.security import (
    CurveKeyError,
    ExposureError,
    check_http_exposure,
    check_zmq_exposure,
    http_access,
    zmq_curve,
)
from service.cli.keys import make_keys
from service.config import AppConfig, ConfigError, load_config

TOKEN = "0123456789abcdef-token"


def config(**sections: object) -> AppConfig:
    return load_config(env={}, overrides={"source": "clip.mp4", **sections})


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.53"])
def test_loopback_needs_no_token(host: str) -> None:
    assert check_http_exposure(config(http={"host": host}).http, insecure=False) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "cams.example.com"])
def test_off_loopback_http_needs_a_token_or_insecure(host: str) -> None:
    http = config(http={"host": host}).http
    with pytest.raises(ExposureError) as err:
        check_http_exposure(http, insecure=False)
    message = str(err.value)
    assert "\n" not in message and "http.token_file" in message and "--insecure" in message
    assert str(check_http_exposure(http, insecure=True)).startswith("--insecure: http.host")
    with_token = config(http={"host": host, "token": TOKEN}).http
    assert check_http_exposure(with_token, insecure=False) is None


@pytest.mark.parametrize(
    ("bind", "local"),
    [
        ("tcp://127.0.0.1:5556", True),
        ("tcp://localhost:5556", True),
        ("tcp://[::1]:5556", True),
        ("ipc:///tmp/a.sock", True),
        ("inproc://x", True),
        ("tcp://0.0.0.0:5556", False),
        ("tcp://*:5556", False),
        ("tcp://10.0.0.2:5556", False),
    ],
)
def test_zmq_off_loopback_needs_curve_or_insecure(bind: str, local: bool) -> None:
    if local:
        assert check_zmq_exposure(bind, False, insecure=False) is None
        return
    with pytest.raises(ExposureError, match=r"zmq\.bind .* CURVE is off.*--insecure"):
        check_zmq_exposure(bind, False, insecure=False)
    assert check_zmq_exposure(bind, True, insecure=False) is None
    assert check_zmq_exposure(bind, False, insecure=True) is not None


def test_keys_from_files_and_from_the_environment(tmp_path: Path) -> None:
    make_keys(tmp_path / "k", ["alice"])
    k = tmp_path / "k"
    cfg = load_config(
        env={
            "ACTIONSTREAM_ZMQ__CURVE_SECRET_KEY_FILE": str(k / "server.key_secret"),
            "ACTIONSTREAM_ZMQ__CURVE_CLIENT_KEYS_FILE": str(k / "authorized_keys"),
            "ACTIONSTREAM_HTTP__TOKEN_FILE": str(k / "http-token"),
        },
        overrides={"source": "clip.mp4"},
    )
    curve = zmq_curve(cfg.zmq)
    assert curve is not None
    alice_public, _ = zmq.auth.load_certificate(k / "alice.key_secret")
    assert curve.allows(alice_public) and not curve.allows(zmq.curve_keypair()[0])
    assert curve.allows(curve.public_key), "the server's own keypair (a proxy sharing it) is let in"
    assert http_access(cfg.http).token == (k / "http-token").read_text().strip()
    assert cfg.zmq.curve_enabled
    # The same keys as Z85 text in the environment (Kubernetes secrets as variables).
    server_public, server_secret = zmq.curve_keypair()
    other_public, _ = zmq.curve_keypair()
    cfg = load_config(
        env={
            "ACTIONSTREAM_ZMQ__CURVE_SECRET_KEY": server_secret.decode(),
            "ACTIONSTREAM_ZMQ__CURVE_CLIENT_KEYS": f"{alice_public.decode()}, {other_public.decode()}",
        },
        overrides={"source": "clip.mp4"},
    )
    curve = zmq_curve(cfg.zmq)
    assert curve is not None and curve.public_key == server_public and len(curve.client_keys) == 2
    assert "**" in repr(cfg.zmq.curve_secret_key), "a secret is never printed"


def test_bad_keys_and_tokens_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 16 characters"):
        config(http={"token": "short"})
    with pytest.raises(ConfigError, match="token_file: file not found"):
        config(http={"token_file": str(tmp_path / "missing")})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        config(http={"token_file": str(tmp_path / "empty")})
    with pytest.raises(ConfigError, match="curve_client_keys need the server's key"):
        config(zmq={"curve_client_keys": [zmq.curve_keypair()[0].decode()]})
    with pytest.raises(ConfigError, match="not both"):
        config(zmq={"curve_secret_key": "x" * 40, "curve_secret_key_file": "/x"})
    bad = config(zmq={"curve_secret_key": "not a key"})
    with pytest.raises(CurveKeyError, match="not a Z85 Curve25519 key"):
        zmq_curve(bad.zmq)
    make_keys(tmp_path / "k", [])
    public_only = config(zmq={"curve_secret_key_file": str(tmp_path / "k" / "server.key")})
    with pytest.raises(CurveKeyError, match="holds only a public key"):
        zmq_curve(public_only.zmq)


def test_camera_source_from_a_secrets_file(tmp_path: Path) -> None:
    secret = tmp_path / "front-door-url"
    secret.write_text("rtsp://viewer:s3cret@10.0.0.5/stream1\n")
    cfg = load_config(env={}, overrides={"cameras": [{"id": "door", "source_file": str(secret)}]})
    assert cfg.cameras[0].source == "rtsp://viewer:s3cret@10.0.0.5/stream1"
    with pytest.raises(ConfigError, match="not both"):
        load_config(
            env={}, overrides={"cameras": [{"id": "door", "source": "x", "source_file": str(secret)}]}
        )
    with pytest.raises(ConfigError) as err:
        load_config(env={}, overrides={"cameras": [{"id": "door", "source_file": str(tmp_path / "nope")}]})
    assert "source_file: file not found" in str(err.value)


def test_source_flag_takes_camera_overrides_from_the_environment() -> None:
    cfg = load_config(
        env={
            "ACTIONSTREAM_CAMERAS__0__TRANSPORT": "udp",
            "ACTIONSTREAM_CAMERAS__0__SOURCE": "rtsp://other/x",
        },
        overrides={"source": "rtsp://cam/stream"},
    )
    assert cfg.cameras[0].transport == "udp", "applied, not silently dropped"
    assert cfg.cameras[0].source == "rtsp://cam/stream", "the flag wins over the environment"
    with pytest.raises(ConfigError, match=r"transport.*\[from ACTIONSTREAM_CAMERAS__0__TRANSPORT\]"):
        load_config(env={"ACTIONSTREAM_CAMERAS__0__TRANSPORT": "quic"}, overrides={"source": "x"})
    with pytest.raises(ConfigError, match=r"'1' is not a valid index \(--source makes one camera"):
        load_config(env={"ACTIONSTREAM_CAMERAS__1__TRANSPORT": "udp"}, overrides={"source": "x"})
