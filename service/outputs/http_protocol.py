"""uvicorn's h11 protocol with the limits a server open to a network needs.

uvicorn alone waits forever for a request's headers once the first byte came (its keep-alive
timer stops at the first byte), answers an oversized request line or header block with 400 and
closes with the rest of the request unread (the client sees a TCP reset, not the answer), and has
no timeout for a body or a response that stops moving. Here:

- the request line and headers must arrive within ``header_timeout_s`` (408 if something came,
  else the connection is just closed);
- a request line over ``MAX_REQUEST_LINE`` bytes gets 414, headers over ``MAX_HEAD`` bytes 431;
- a request body or a response that moves no byte for ``idle_timeout_s`` is cut;
- every refusal is written, the sending side shut down, and what the client still sends read and
  discarded for a moment (a "lingering close"), so the client reads the answer instead of a reset.

The connection cap is uvicorn's own ``limit_concurrency`` (503 beyond it).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

MAX_REQUEST_LINE = 8 * 1024
MAX_HEAD = 32 * 1024
LINGER_S = 2.0
_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
}


@dataclass(frozen=True)
class HttpLimits:
    """Timeouts and the connection cap of one server."""

    header_timeout_s: float = 10.0
    idle_timeout_s: float = 60.0
    max_connections: int = 100
    keep_alive_s: float = 5.0


class GuardedH11Protocol(H11Protocol):
    """See the module docstring; ``limits`` is set on a subclass per server (:func:`protocol_for`)."""

    limits = HttpLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._discarding = False

    # -- connection --------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._idle_timer, self._write_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        if self.conn.their_state is h11.IDLE:  # a request line and headers are arriving
            refusal = _check_head(self.conn.trailing_data[0] + data)
            if refusal is not None:
                self._refuse(*refusal)
                return
            if self._head_timer is None:
                self._arm_head_timer()
        try:
            super().data_received(data)
        except Exception:
            log.exception("HTTP: unexpected error while parsing a request")
            self._refuse(400, "the request could not be parsed")
            return
        state = self.conn.their_state
        if state is not h11.IDLE and self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if state is h11.SEND_BODY:
            self._arm_idle_timer()
        elif self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def send_400_response(self, msg: str) -> None:
        """h11 refused the bytes (a malformed request): say so, then close without a reset."""
        self._refuse(400, f"invalid HTTP request: {msg.rstrip('.')}")

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.limits.idle_timeout_s, self._write_stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    # -- timers ------------------------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._discarding or self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.trailing_data[0]:
            self._refuse(
                408, f"the request line and headers did not arrive within {self.limits.header_timeout_s:g} s"
            )
        else:
            self.transport.close()  # an idle connection that never sent a request

    def _arm_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = self.loop.call_later(self.limits.idle_timeout_s, self._body_idle)

    def _body_idle(self) -> None:
        self._idle_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        if self.flow.read_paused:  # we stopped reading, not the client: wait on
            self._arm_idle_timer()
            return
        log.info("HTTP: a request body stalled for %g s; closing", self.limits.idle_timeout_s)
        self.transport.close()

    def _write_stalled(self) -> None:
        self._write_timer = None
        if not self.transport.is_closing():
            log.info("HTTP: a client read nothing for %g s; closing", self.limits.idle_timeout_s)
            self.transport.abort()

    # -- refusing ----------------------------------------------------------------------------------

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` and close: shut down sending, discard what still comes, then close."""
        if self._discarding or self.transport.is_closing():
            return
        self._discarding = True
        for timer in (self._head_timer, self._idle_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._idle_timer = None
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # A request is being answered (its body turned out malformed): the app sees a
            # disconnect and writes nothing more; a response already under way is just cut.
            started = cycle.response_started
            cycle.disconnected = True
            cycle.message_event.set()
            if started:
                self.transport.close()
                return
        body = (message + "\n").encode("utf-8", "replace")
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            "content-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n"
            "x-content-type-options: nosniff\r\n\r\n"
        )
        self.transport.write(head.encode("ascii") + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)


def _check_head(head: bytes) -> tuple[int, str] | None:
    """414 or 431 for a request line or header block over the limits (``head``: what has arrived)."""
    line_end = head.find(b"\n")
    line = len(head) if line_end < 0 else line_end
    if line > MAX_REQUEST_LINE:
        return 414, f"the request line is longer than {MAX_REQUEST_LINE // 1024} KiB"
    end = head.find(b"\r\n\r\n")
    if end < 0:
        end = head.find(b"\n\n")
    size = len(head) if end < 0 else end
    if size > MAX_HEAD:
        return 431, f"the request headers are larger than {MAX_HEAD // 1024} KiB"
    return None


def protocol_for(limits: HttpLimits) -> type[GuardedH11Protocol]:
    """A protocol class with these limits (uvicorn builds one instance per connection)."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"limits": limits})
