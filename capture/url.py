"""The one place credentials are removed from URLs and from any text that may contain one.

Every log line, error message, ``repr`` and ``describe()`` in capture goes through these helpers,
including messages that come out of OpenCV/FFmpeg (they sometimes echo the URL they were given).
"""

from __future__ import annotations

import re

MASK = "***"

# scheme://userinfo@ -- userinfo runs up to the LAST '@' before the first '/', so a password that
# contains a raw '@' (common in hand-written camera URLs) is still masked whole.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^\s/]*)@")
# Credentials some cameras take in the query string (?user=admin&password=...).
_SECRET_QUERY = re.compile(
    r"(?P<key>[?&;](?:user(?:name)?|pass(?:word|wd)?|pwd|token|secret|auth|key|api_?key|access_token)=)"
    r"(?P<value>[^&;#\s]*)",
    re.IGNORECASE,
)


def _mask_userinfo(match: re.Match[str]) -> str:
    userinfo = match.group("userinfo")
    masked = f"{MASK}:{MASK}" if ":" in userinfo else MASK
    return f"{match.group('scheme')}{masked}@"


def mask_text(text: str) -> str:
    """Mask credentials of every URL inside arbitrary text (error messages, log lines)."""
    if not text:
        return text
    text = _USERINFO.sub(_mask_userinfo, text)
    return _SECRET_QUERY.sub(lambda m: f"{m.group('key')}{MASK}", text)


def mask_credentials(url: str) -> str:
    """``rtsp://user:pass@host/x`` -> ``rtsp://***:***@host/x``; also masks secret query values.

    Keeps host, port and path so the result still tells the user which camera is meant.
    """
    return mask_text(str(url))
