"""What the commands share: number arguments name what they expect; a bad config is a usage error."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from service.cli.common import UsageError, load_or_usage_error, number
from service.config import load_config


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (number(float, gt=0, le=86400, what="seconds"), "-1", "expected seconds in (0, 86400], got -1"),
        (number(int, ge=1, le=1000), "0", "expected a whole number in 1..1000, got 0"),
        (number(int, ge=1), "0", "expected a whole number >= 1, got 0"),
        (number(float, gt=0, lt=1, what="a fraction"), "1", "expected a fraction in (0, 1), got 1"),
        (number(float, gt=0), "x", "expected a number, got 'x'"),
        (number(int), "1.5", "expected a whole number, got '1.5'"),
        (number(float), "nan", "expected a number, got nan"),
    ],
)
def test_number_arguments_say_what_they_expect(parse: argparse.Action, text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as err:
        parse(text)  # type: ignore[operator]
    assert str(err.value) == message


def test_numbers_within_bounds_come_back_typed() -> None:
    assert number(int, ge=1)("3") == 3 and number(float, gt=0)("2.5") == 2.5


def test_a_bad_config_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("cameras:\n  - id: Front Door\n    source: x.mp4\n")
    with pytest.raises(UsageError, match=r"bad config:\ncameras\[0\]\.id"):
        load_or_usage_error(load_config, str(path), {})
