"""The Grafana dashboards' PromQL, pulled out of the JSON so tests can run it against Prometheus.

Every panel keeps its queries in ``targets[].expr`` (rows may nest panels); template variables
are substituted the way Grafana would for a Prometheus data source.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD_DIR = ROOT / "deploy" / "grafana" / "dashboards"
# $camera with "All" is Grafana's allValue (".+"); $__rate_interval is at least 4 scrape intervals.
DEFAULT_VARIABLES: Mapping[str, str] = {"camera": ".+", "__rate_interval": "1m"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::[\w]+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def dashboard_files(directory: Path = DASHBOARD_DIR) -> list[Path]:
    return sorted(directory.glob("*.json"))


def iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def dashboard_exprs(path: Path) -> dict[str, str]:
    """``"<dashboard> / <panel title> / <refId>" -> expr`` for every target of every panel."""
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for panel in iter_panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if "expr" in target:
                out[f"{path.stem} / {panel.get('title')} / {target.get('refId')}"] = target["expr"]
    return out


def substitute(expr: str, variables: Mapping[str, str] = DEFAULT_VARIABLES) -> str:
    """Replace ``$var``, ``${var}``, ``${var:fmt}`` and ``[[var]]``; an unknown variable is an error."""

    def repl(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        if name not in variables:
            raise KeyError(f"unknown template variable ${name} in {expr!r}")
        return variables[name]

    return _VARIABLE.sub(repl, expr)


def dashboard_queries(
    variables: Mapping[str, str] = DEFAULT_VARIABLES, directory: Path = DASHBOARD_DIR
) -> dict[str, str]:
    """All dashboards' expressions, ready to run: name -> PromQL with variables substituted."""
    return {
        name: substitute(expr, variables)
        for path in dashboard_files(directory)
        for name, expr in dashboard_exprs(path).items()
    }
