"""A real Prometheus as a plain process, for tests that check PromQL against it.

Used by tests/deploy (dashboard expressions parse and return data from a scraped target) and by
tests that point it at a live ``actionstream serve``::

    with PrometheusServer(tmp_path, targets=["127.0.0.1:8080"]) as prom:
        assert_every_dashboard_query_returns_data(prom.url, dashboard_queries())

Binds 127.0.0.1 on a free port with its own temporary storage; ``stop()`` ends the process.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

PROMETHEUS_CANDIDATES = ("prometheus", "/usr/bin/prometheus")


class PrometheusError(RuntimeError):
    """Prometheus did not start, or answered a query with an error."""


def find_prometheus() -> str | None:
    """The prometheus binary (PATH, then /usr/bin), or None when it is not installed."""
    for name in PROMETHEUS_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrometheusServer:
    """Prometheus on 127.0.0.1 scraping ``targets`` every ``scrape_interval_s`` (job ``actionstream``)."""

    def __init__(
        self,
        workdir: Path,
        *,
        targets: Sequence[str] = (),
        job: str = "actionstream",
        scrape_interval_s: float = 1.0,
        rule_files: Sequence[Path] = (),
        binary: str | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.targets = tuple(targets)
        self.job = job
        self.scrape_interval_s = scrape_interval_s
        self.rule_files = tuple(Path(p).resolve() for p in rule_files)
        self.binary = binary or find_prometheus()
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = self.workdir / "prometheus.log"

    @property
    def url(self) -> str:
        if self.port is None:
            raise PrometheusError("Prometheus is not started")
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        interval = f"{int(self.scrape_interval_s * 1000)}ms"
        config: dict[str, Any] = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "scrape_configs": [
                {
                    "job_name": self.job,
                    "scrape_interval": interval,
                    "scrape_timeout": interval,
                    "static_configs": [{"targets": list(self.targets)}],
                }
            ],
        }
        if self.rule_files:
            config["rule_files"] = [str(p) for p in self.rule_files]
        path = self.workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    def start(self, timeout: float = 30.0) -> None:
        """Start the process and wait until /-/ready answers; a few ports are tried if one is taken."""
        if self.binary is None:
            raise PrometheusError("prometheus is not installed (apt-get install prometheus)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.write_config()
        for _attempt in range(3):
            self.port = free_port()
            storage = self.workdir / f"data-{self.port}"
            log = self._log_path.open("ab")
            self._proc = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={storage}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--web.enable-lifecycle",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            if self._wait_ready(timeout):
                return
            self.stop()
        raise PrometheusError(f"Prometheus did not become ready; its log:\n{self.log_tail()}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False  # exited (e.g. the port was taken after all)
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1.0) as resp:
                    if resp.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        return False

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)

    def log_tail(self, lines: int = 30) -> str:
        if not self._log_path.exists():
            return ""
        return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_for_targets_up(self, timeout: float = 20.0) -> None:
        """Wait until every target has been scraped successfully (``up == 1``)."""
        deadline = time.monotonic() + timeout
        up: list[Any] = []
        while time.monotonic() < deadline:
            up = query(self.url, f'up{{job="{self.job}"}} == 1')["result"]
            if len(up) >= len(self.targets):
                return
            time.sleep(self.scrape_interval_s / 2)
        raise PrometheusError(f"targets not up after {timeout:.0f} s (up: {up}); log:\n{self.log_tail()}")

    def __enter__(self) -> PrometheusServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def query(prom_url: str, expr: str, timeout: float = 10.0) -> dict[str, Any]:
    """Run an instant query; return ``data`` ({resultType, result}) or raise with Prometheus's error."""
    url = f"{prom_url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:  # 400 bad_data (parse error), 422 execution error
        try:
            body = json.loads(exc.read())
        except ValueError:
            raise PrometheusError(f"HTTP {exc.code} for {expr!r}") from exc
    if body.get("status") != "success":
        raise PrometheusError(f"{body.get('errorType')}: {body.get('error')}")
    data: dict[str, Any] = body["data"]
    return data


def _named(exprs: Iterable[str] | Mapping[str, str]) -> list[tuple[str, str]]:
    if isinstance(exprs, Mapping):
        return list(exprs.items())
    return [(expr, expr) for expr in exprs]


def assert_every_query_parses(prom_url: str, exprs: Iterable[str] | Mapping[str, str]) -> None:
    """Every expression is accepted by Prometheus (a parse error answers 400 ``bad_data``)."""
    failures = []
    for name, expr in _named(exprs):
        try:
            query(prom_url, expr)
        except PrometheusError as exc:
            failures.append(f"{name}: {exc}")
    assert not failures, "Prometheus rejected:\n" + "\n".join(failures)


def has_data(data: Mapping[str, Any]) -> bool:
    """A non-empty instant result: at least one sample in a vector, or a scalar/string."""
    if data.get("resultType") in ("scalar", "string"):
        return True
    return bool(data.get("result"))


def assert_every_dashboard_query_returns_data(
    prom_url: str,
    exprs: Iterable[str] | Mapping[str, str],
    *,
    timeout: float = 30.0,
    poll_s: float = 1.0,
) -> None:
    """Every expression returns at least one sample, polling until ``timeout`` (rates need 2 scrapes).

    ``exprs`` are ready-to-run PromQL (template variables already substituted, see
    tests.dashboards.dashboard_queries), or a mapping name -> expression for clearer failures.
    A NaN sample counts as data (a quantile over a window without events is NaN, not absent).
    """
    pending = dict(_named(exprs))
    assert pending, "no expressions given"
    errors: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while True:
        for name, expr in list(pending.items()):
            try:
                if has_data(query(prom_url, expr)):
                    del pending[name]
                    errors.pop(name, None)
            except PrometheusError as exc:
                errors[name] = str(exc)
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(poll_s)
    lines = [f"{name}: {errors.get(name, 'no data')}\n    {expr}" for name, expr in pending.items()]
    assert not pending, f"{len(lines)} queries returned no data after {timeout:.0f} s:\n" + "\n".join(lines)
