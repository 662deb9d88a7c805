"""Who may use the HTTP server, checked before any route runs (an ASGI middleware).

In order, for every request:

1. **Host**: the ``Host`` header must be one this server answers to, so a web page that rebinds
   its own name to 127.0.0.1 (DNS rebinding) cannot talk to a service on loopback. Default: the
   names of loopback when bound to loopback; any host otherwise (the token protects it then).
2. **Origin** (POST, PUT, PATCH, DELETE): a browser's ``Origin`` must be this server, and a
   ``Sec-Fetch-Site`` other than same-origin/none is refused, so another site cannot make a
   visitor's browser upload, delete or log in (CSRF). Clients that send neither (curl, scripts) pass.
3. **Token** (when one is configured): ``Authorization: Bearer <token>``, or the session cookie a
   browser gets from ``/login`` (a form) or from a ``?token=`` in any page's URL (once; it is then
   redirected away). The cookie is ``HttpOnly; SameSite=Strict`` and holds an HMAC of the token,
   not the token. ``/livez``, ``/readyz`` and the login page are always open; ``/metrics`` unless
   ``metrics_auth``. Without credentials: 401 (pages show the login form).

Every response carries CSP, ``X-Content-Type-Options``, ``X-Frame-Options``, ``Referrer-Policy``
and ``Cross-Origin-Resource-Policy`` headers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "actionstream_session"
COOKIE_MAX_AGE_S = 30 * 86_400
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", ".localhost")
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        b"media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        b"form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),  # no-referrer would make the browser's own Origin "null"
    (b"cross-origin-resource-policy", b"same-origin"),
)
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_OPEN_PATHS = frozenset({"/livez", "/readyz", "/login", "/login.js", "/login/status"})
_PAGES = frozenset({"/", "/live", "/index.html"})
_MAX_LOGIN_BODY = 4096
_SESSION_CONTEXT = b"actionstream-session-v1"


@dataclass(frozen=True)
class AccessPolicy:
    """What the guard enforces. ``allowed_hosts`` None: any Host header."""

    token: str | None = None
    metrics_auth: bool = False
    allowed_hosts: tuple[str, ...] | None = LOOPBACK_HOSTS

    @classmethod
    def for_server(
        cls,
        bind_host_is_loopback: bool,
        *,
        token: str | None = None,
        metrics_auth: bool = False,
        allowed_hosts: list[str] | tuple[str, ...] | None = None,
    ) -> AccessPolicy:
        """The policy for a server bound to loopback or not (``allowed_hosts`` None: the default)."""
        if allowed_hosts is None:
            hosts: tuple[str, ...] | None = LOOPBACK_HOSTS if bind_host_is_loopback else None
        else:
            hosts = None if "*" in allowed_hosts else tuple(h.lower() for h in allowed_hosts)
        return cls(token=token, metrics_auth=metrics_auth, allowed_hosts=hosts)

    def host_allowed(self, host_header: str) -> bool:
        if self.allowed_hosts is None:
            return True
        name = _host_name(host_header)
        for entry in self.allowed_hosts:
            if entry.startswith("."):
                if name == entry[1:] or name.endswith(entry):
                    return True
            elif name == entry.strip("[]"):
                return True
        return False

    @property
    def session(self) -> str:
        """The cookie value: an HMAC of the token (the cookie never holds the token itself)."""
        assert self.token is not None
        return hmac.new(self.token.encode(), _SESSION_CONTEXT, hashlib.sha256).hexdigest()


class GuardMiddleware:
    """The checks of the module docstring, in front of ``app``."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = _Request(scope)
        refusal = self._refusal(request)
        if refusal is not None:
            await refusal(send)
            return
        if self.policy.token is not None and request.path in (
            "/login",
            "/login.js",
            "/login/status",
            "/logout",
        ):
            await self._login(request, receive, send)
            return
        if self.policy.token is not None and not self._authenticated(request):
            await self._unauthenticated(request, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_security_headers(message.get("headers", []))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    # -- the checks --------------------------------------------------------------------------------

    def _refusal(self, request: _Request) -> _Response | None:
        host = request.header("host")
        if not host:
            return _json(400, "a Host header is required")
        if not self.policy.host_allowed(host):
            log.warning("refused a request for Host %r (not in http.allowed_hosts)", host[:100])
            return _json(
                400,
                f"this server does not answer to the host {_host_name(host)!r}; "
                "if that is its name, add it to http.allowed_hosts",
            )
        if request.method in _UNSAFE_METHODS:
            origin = request.header("origin")
            site = request.header("sec-fetch-site")
            if origin is not None and origin.strip() == "null" and site == "same-origin":
                origin = None  # a privacy-minded browser hid the origin but vouches it is this one
            if origin is not None and not _same_origin(origin, request.scheme, host):
                log.warning(
                    "refused a cross-origin %s %s from %r", request.method, request.path, origin[:100]
                )
                return _json(403, f"cross-origin request refused: {origin[:100]} is not this server")
            if origin is None and site is not None and site not in ("same-origin", "none"):
                return _json(403, f"cross-site request refused (Sec-Fetch-Site: {site[:40]})")
        return None

    def _open(self, path: str) -> bool:
        return path in _OPEN_PATHS or (path == "/metrics" and not self.policy.metrics_auth)

    def _authenticated(self, request: _Request) -> bool:
        if self._open(request.path):
            return True
        return self._credentials_ok(request) is True

    def _credentials_ok(self, request: _Request) -> bool | None:
        """True: valid credentials; False: credentials given but wrong; None: none given."""
        token = self.policy.token
        assert token is not None
        scheme, _, value = (request.header("authorization") or "").partition(" ")
        if scheme.lower() == "bearer":  # other schemes (a proxy's Basic) are not ours: the cookie decides
            return hmac.compare_digest(value.strip().encode(), token.encode())
        cookie = request.cookie(COOKIE)
        if cookie is not None:
            return hmac.compare_digest(cookie.encode(), self.policy.session.encode())
        return None

    async def _unauthenticated(self, request: _Request, send: Send) -> None:
        given = request.query.get("token")
        if given is not None and request.method in ("GET", "HEAD"):
            if hmac.compare_digest(given.encode(), self.policy.token.encode()):  # type: ignore[union-attr]
                # Once: the token leaves the address bar (and the history) for a cookie.
                rest = urlencode([(k, v) for k, v in request.query_items if k != "token"])
                await _redirect(request.path + (f"?{rest}" if rest else ""), self._cookie(request))(send)
                return
            await self._login_page(request, 401, "That token is not valid.")(send)
            return
        wrong = self._credentials_ok(request) is False
        if request.path in _PAGES and request.method in ("GET", "HEAD"):
            await self._login_page(request, 401, "Your session has ended." if wrong else "")(send)
            return
        detail = (
            "the credentials are not valid"
            if wrong
            else "authentication required: send 'Authorization: Bearer <token>', or log in at /login"
        )
        await _json(401, detail, [(b"www-authenticate", b'Bearer realm="actionstream"')])(send)

    # -- login -------------------------------------------------------------------------------------

    async def _login(self, request: _Request, receive: Receive, send: Send) -> None:
        if request.path == "/login.js":
            response = _Response(200, _LOGIN_JS.encode(), b"text/javascript; charset=utf-8")
        elif request.path == "/login/status":
            response = _Response(204 if self._credentials_ok(request) is True else 401, b"", b"text/plain")
        elif request.path == "/logout":
            response = (
                _redirect("/login", f"{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict".encode())
                if request.method == "POST"
                else _json(405, "use POST to log out")
            )
        elif request.method in ("GET", "HEAD"):
            next_path = _safe_next(request.query.get("next", "/"))
            response = (
                _redirect(next_path)
                if self._credentials_ok(request) is True
                else self._login_page(request, 200, "", next_path)
            )
        elif request.method == "POST":
            response = await self._log_in(request, receive)
        else:
            response = _json(405, "use GET for the login page and POST to log in")
        await response(send)

    async def _log_in(self, request: _Request, receive: Receive) -> _Response:
        """POST /login: the form's token right -> the cookie and on to ``next``; wrong -> 401."""
        body = await _read_body(receive, _MAX_LOGIN_BODY)
        if body is None:
            return _json(413, "the login form is too large")
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        next_path = _safe_next(form.get("next") or request.query.get("next") or "/")
        given = form.get("token", "").strip()
        if hmac.compare_digest(given.encode(), self.policy.token.encode()):  # type: ignore[union-attr]
            return _redirect(next_path, self._cookie(request))
        log.warning("a login with a wrong token was refused")
        return self._login_page(request, 401, "That token is not valid.", next_path)

    def _cookie(self, request: _Request) -> bytes:
        secure = "; Secure" if request.scheme == "https" else ""
        return (
            f"{COOKIE}={self.policy.session}; Path=/; Max-Age={COOKIE_MAX_AGE_S}; HttpOnly; "
            f"SameSite=Strict{secure}"
        ).encode()

    def _login_page(
        self, request: _Request, status: int, message: str, next_path: str | None = None
    ) -> _Response:
        target = next_path or _safe_next(
            request.path + (f"?{request.query_string}" if request.query_string else "")
        )
        target = _safe_next(_without_token(target))
        html = _LOGIN_HTML.format(message=escape(message), next=escape(target, quote=True))
        return _Response(
            status, html.encode(), b"text/html; charset=utf-8", [(b"cache-control", b"no-store")]
        )


# -- requests and responses ----------------------------------------------------------------------


class _Request:
    def __init__(self, scope: Scope) -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.scheme: str = scope.get("scheme", "http")
        self.query_string: str = scope.get("query_string", b"").decode("latin-1")
        self.query_items = parse_qsl(self.query_string, keep_blank_values=True)
        self.query = dict(self.query_items)
        self._headers: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            key = name.decode("latin-1").lower()
            if key not in self._headers:  # the first of repeated headers counts
                self._headers[key] = value.decode("latin-1")

    def header(self, name: str) -> str | None:
        return self._headers.get(name)

    def cookie(self, name: str) -> str | None:
        for part in (self.header("cookie") or "").split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key == name:
                return value
        return None


class _Response:
    def __init__(
        self, status: int, body: bytes, content_type: bytes, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self.status = status
        self.body = body
        self.headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        self.headers += headers or []

    async def __call__(self, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": _with_security_headers(self.headers),
            }
        )
        await send({"type": "http.response.body", "body": self.body})


def _json(status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> _Response:
    return _Response(status, json.dumps({"detail": detail}).encode(), b"application/json", headers)


def _redirect(location: str, cookie: bytes | None = None) -> _Response:
    headers = [(b"location", location.encode("latin-1", "replace")), (b"cache-control", b"no-store")]
    if cookie is not None:
        headers.append((b"set-cookie", cookie))
    return _Response(303, b"", b"text/plain", headers)


def _with_security_headers(headers: Any) -> list[tuple[bytes, bytes]]:
    out = list(headers)
    present = {bytes(name).lower() for name, _ in out}
    out += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
    return out


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return body
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return body


def _host_name(host_header: str) -> str:
    """``example.com:8080`` -> ``example.com``; ``[::1]:8080`` -> ``::1``; lower case, no final dot."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _same_origin(origin: str, scheme: str, host_header: str) -> bool:
    origin = origin.strip().lower()
    if origin == "null":
        return False
    default = {"http": ":80", "https": ":443"}.get(scheme, "")
    here = f"{scheme}://{host_header.strip().lower()}"
    return origin in (here, here.removesuffix(default)) or f"{origin}{default}" == here


def _safe_next(path: str) -> str:
    """Only a path on this server (no ``//host``, no scheme) may be the target after a login."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or any(ord(c) < 32 for c in path):
        return "/"
    return path


def _without_token(path: str) -> str:
    base, sep, query = path.partition("?")
    if not sep:
        return path
    rest = urlencode([(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "token"])
    return base + (f"?{rest}" if rest else "")


_LOGIN_HTML = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>actionstream: log in</title></head>
<body>
<main>
<h1>actionstream</h1>
<p>This server needs its access token (<code>http.token</code>; <code>actionstream keys</code> writes
one to <code>DIR/http-token</code>).</p>
<p id="message"><strong>{message}</strong></p>
<form method="post" action="/login">
<input type="hidden" name="next" value="{next}">
<label>Token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Log in</button>
</form>
</main>
<script src="/login.js"></script>
</body>
</html>
"""

# A link from another site opens this page without the SameSite=Strict cookie; from here the same
# cookie goes along, so check once and go on if the session is in fact valid.
_LOGIN_JS = """(async () => {
  const next = document.querySelector("input[name=next]").value || "/";
  const key = "actionstream-login-retry";  // never more than one retry in 10 s: no reload loop
  if (Date.now() - Number(sessionStorage.getItem(key) || 0) < 10000) return;
  try {
    const r = await fetch("/login/status", {credentials: "same-origin", cache: "no-store"});
    if (r.status === 204) {
      sessionStorage.setItem(key, String(Date.now()));
      location.replace(next);
    }
  } catch (e) { /* stay on the form */ }
})();
"""
