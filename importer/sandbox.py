"""The sandbox: a stand-in for Captorra's lead-posting API, in process or on loopback.

It exists so the importer can be exercised end to end without sending personal
data anywhere. What it guarantees:

- **Documented answers, exactly.** A request gets one of the bodies listed in
  CAPTORRA.md, with the error texts from `importer.captorra.ApiError` verbatim,
  checked in this order: JSON object, CaptorraId, First, Last, Referrer present;
  Referrer and (non-blank) Type well-formed GUIDs (8-4-4-4-12 hex, any case, no
  braces); both known, when `SandboxConfig` lists the known GUIDs. A created
  intake answers HTTP 200; a business error answers HTTP 400, because the page
  does not promise a status and a robust client must decide by the body.
- **One core, two front ends.** The in-process httpx transport and the
  Starlette app both call `Sandbox._answer`, so they cannot disagree.
- **Exact bookkeeping.** Every created intake is in `Sandbox.intakes` and, when
  `record` is set, on disk as one JSON line *before* any answer leaves, so a
  test can count what was created even after killing its client.
- **Faults a robust client must survive**, drawn reproducibly (`seed`): 503 with
  Retry-After, 502 gateway HTML and a dropped connection that create nothing,
  and a 500, a dropped connection and a too-slow answer that come *after* the
  request was processed (an intake created if the lead was valid), which is the
  ambiguity that makes blind retries create duplicates.
- **Misbehaviours of real deployments, on demand**, so a client can be
  rehearsed against them: a created intake answered in another shape
  (`AnswerStyle`: `{"success": "true"}`, a `{"d": ...}` wrapper, no IntakeID,
  the broken quote Captorra's page prints, an HTML page, ...), every request
  answered with one status (`status`: 401/403/404 pages, a redirect to
  `redirect`, 429/503 with Captorra-shaped bodies) and creating nothing, every
  lead refused with one text (`reject_with`), answers trickled a byte at a time
  (`trickle`), and https with a given certificate.
- **No personal data in logs**: no access log, and payloads are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final, NoReturn, TypeAlias

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from importer.captorra import GUID_PATTERN, ApiError
from importer.errors import UsageError
from importer.serving import listening_socket, serve_until_interrupted, serving_in_thread

SANDBOX_PATH = "/api/captorraapi/create"
_PATHS: Final = (SANDBOX_PATH, "/")

# The message httpcore gives when a server closes the connection before answering,
# so in-process drops look exactly like drops on a real socket.
_DISCONNECTED: Final = "Server disconnected without sending a response."
_READ_TIMED_OUT: Final = "The read operation timed out"


class Fault(StrEnum):
    """A way for one request to go wrong; the value is what a CLI option would name."""

    UNAVAILABLE = "503"
    # 429 and 503 with Captorra-shaped bodies: the status, not the body, says "not processed".
    RATE_LIMITED = "429-json"
    UNAVAILABLE_JSON = "503-json"
    ERROR_AFTER_CREATE = "500"
    GATEWAY_HTML = "502"
    DROP_BEFORE_CREATE = "drop-before"
    DROP_AFTER_CREATE = "drop-after"
    SLOW = "slow"

    @property
    def creates_intake(self) -> bool:
        """Whether the request is processed (an intake created, if valid) before the fault."""
        return self in (Fault.ERROR_AFTER_CREATE, Fault.DROP_AFTER_CREATE, Fault.SLOW)


class AnswerStyle(StrEnum):
    """How a created intake is answered; only `captorra` is the documented shape."""

    CAPTORRA = "captorra"  # {"success": true, "IntakeID": "..."}
    NO_INTAKE_ID = "no-intake-id"  # {"success": true}
    STRING_TRUE = "string-true"  # {"success": "true", "IntakeID": ...}
    CAPITALISED = "capitalised"  # {"Success": true, "IntakeId": ...}
    NUMBER = "number"  # {"success": 1, "intake_id": ...}
    WRAPPED = "wrapped"  # {"d": {"success": true, "Intake_ID": ...}}
    JSON_STRING = "json-string"  # the documented answer inside a JSON string
    PAGE_TYPO = "page-typo"  # {"success": true, "IntakeID: "..."}, as the page prints it
    HTML = "html"  # an HTML page with 200: created, but nobody can tell
    EMPTY = "empty"  # 200 with an empty body: created, but nobody can tell
    UNEXPECTED_JSON = "unexpected-json"  # {"status": "ok"}: created, but nobody can tell


@dataclass(frozen=True)
class SandboxConfig:
    """How the sandbox behaves; invalid values raise `UsageError`."""

    referrers: frozenset[str] = frozenset()  # empty: any well-formed GUID is known
    types: frozenset[str] = frozenset()  # empty: any well-formed GUID is known
    latency: float = 0.0  # seconds added to every answer
    fault_rate: float = 0.0  # fraction of requests that get a fault
    faults: tuple[Fault, ...] = tuple(Fault)  # drawn from uniformly
    retry_after: float = 1.0  # Retry-After of a 503, in seconds
    slow_seconds: float = 60.0  # how late a SLOW answer comes
    record: Path | None = None  # JSON lines: {"IntakeID": ..., "payload": {...}} per intake
    seed: int | None = None  # for reproducible fault draws
    answer_style: AnswerStyle = AnswerStyle.CAPTORRA
    status: int | None = None  # answer every request with this status, creating nothing
    redirect: str | None = None  # answer every request with 302 to this URL, creating nothing
    reject_with: str | None = None  # refuse every lead with this text
    trickle: float = 0.0  # seconds between the bytes of every answer

    def __post_init__(self) -> None:
        problem = _config_problem(self)
        if problem is not None:
            raise UsageError(f"sandbox: {problem}")


def _config_problem(config: SandboxConfig) -> str | None:
    durations = {
        "latency": config.latency,
        "retry_after": config.retry_after,
        "slow_seconds": config.slow_seconds,
        "trickle": config.trickle,
    }
    for name, seconds in durations.items():
        if not (math.isfinite(seconds) and seconds >= 0):
            return f"{name} must be a number of seconds >= 0, got {seconds}"
    if not 0 <= config.fault_rate <= 1:
        return f"fault_rate must be between 0 and 1, got {config.fault_rate}"
    if config.status is not None and not 200 <= config.status <= 599:
        return f"status must be an HTTP status (200-599), got {config.status}"
    if config.fault_rate > 0 and not config.faults:
        return "fault_rate is above 0 but no faults are allowed"
    for name, guids in (("referrer", config.referrers), ("type", config.types)):
        malformed = sorted(guid for guid in guids if not _is_guid(guid))
        if malformed:
            return f"{name} {malformed[0]!r} is not a hyphenated GUID"
    return None


# --- What the core decides: an answer, a dropped connection, or a late answer ---


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Drop:
    """Close the connection without sending a byte of answer."""


@dataclass(frozen=True)
class _Stall:
    """Answer `reply`, but only after `seconds`."""

    seconds: float
    reply: _Reply


@dataclass(frozen=True)
class _Trickle:
    """Answer `reply`, its body one byte every `seconds`."""

    seconds: float
    reply: _Reply


_Outcome: TypeAlias = _Reply | _Drop | _Stall | _Trickle
_Answer: TypeAlias = Callable[[bytes], Awaitable[_Outcome]]

_JSON_TYPE: Final = ("content-type", "application/json; charset=utf-8")
_HTML_TYPE: Final = ("content-type", "text/html; charset=utf-8")
_TEXT_TYPE: Final = ("content-type", "text/plain; charset=utf-8")

# Error pages in the shapes real infrastructure sends: not JSON, so a client must
# treat them as transport failures rather than as Captorra's answer.
_PAGE_500: Final = (
    b"<!DOCTYPE html>\r\n<html><head><title>Runtime Error</title></head>\r\n"
    b"<body><h1>Server Error in '/' Application.</h1><h2><i>Runtime Error</i></h2>"
    b"</body></html>\r\n"
)
_PAGE_502: Final = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_PAGE_503: Final = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n"
    b"<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)

_PAGE_THANKS: Final = (
    b"<!DOCTYPE html>\r\n<html><head><title>Thank you</title></head>\r\n"
    b"<body><p>Your request was received.</p></body></html>\r\n"
)

# In the order Captorra checks them, as we model it.
_REQUIRED_MESSAGES: Final = (
    ("CaptorraId", ApiError.MISSING_CAPTORRA_ID),
    ("First", ApiError.MISSING_FIRST),
    ("Last", ApiError.MISSING_LAST),
    ("Referrer", ApiError.MISSING_REFERRER),
)


def _json_reply(status: int, document: Mapping[str, object]) -> _Reply:
    # json.dumps' default separators give exactly the bodies the page prints.
    return _Reply(status, json.dumps(document).encode(), (_JSON_TYPE,))


def _created(intake_id: str, style: AnswerStyle = AnswerStyle.CAPTORRA) -> _Reply:
    documents: dict[AnswerStyle, Mapping[str, object]] = {
        AnswerStyle.NO_INTAKE_ID: {"success": True},
        AnswerStyle.STRING_TRUE: {"success": "true", "IntakeID": intake_id},
        AnswerStyle.CAPITALISED: {"Success": True, "IntakeId": intake_id},
        AnswerStyle.NUMBER: {"success": 1, "intake_id": intake_id},
        AnswerStyle.WRAPPED: {"d": {"success": True, "Intake_ID": intake_id}},
        AnswerStyle.UNEXPECTED_JSON: {"status": "ok"},
    }
    match style:
        case AnswerStyle.JSON_STRING:
            body = json.dumps(json.dumps({"success": True, "IntakeID": intake_id})).encode()
            return _Reply(200, body, (_JSON_TYPE,))
        case AnswerStyle.PAGE_TYPO:
            body = f'{{"success": true, "IntakeID: "{intake_id}"}}'.encode()
            return _Reply(200, body, (_JSON_TYPE,))
        case AnswerStyle.HTML:
            return _Reply(200, _PAGE_THANKS, (_HTML_TYPE,))
        case AnswerStyle.EMPTY:
            return _Reply(200, b"", (_JSON_TYPE,))
        case AnswerStyle.CAPTORRA:
            return _json_reply(200, {"success": True, "IntakeID": intake_id})
    return _json_reply(200, documents[style])


def _busy(status: int, config: SandboxConfig) -> _Reply:
    # Captorra-shaped on purpose: the status, not the body, says "not processed".
    error = "Too many requests" if status == 429 else "Service unavailable"
    headers = (_JSON_TYPE, ("retry-after", _retry_after(config.retry_after)))
    return _Reply(status, json.dumps({"success": False, "error": error}).encode(), headers)


def _status_reply(config: SandboxConfig) -> _Reply | None:
    """The one answer every request gets under `status` or `redirect`; nothing is created."""
    status = config.status or (302 if config.redirect else None)
    if status is None:
        return None
    if 300 <= status < 400:
        return _Reply(status, b"", (_TEXT_TYPE, ("location", config.redirect or "/login")))
    if status in (429, 503):
        return _busy(status, config)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    page = (
        f"<html><head><title>{status} {phrase}</title></head><body><h1>{phrase}</h1></body></html>"
    )
    return _Reply(status, page.encode(), (_HTML_TYPE,))


def _rejected(error: str) -> _Reply:
    return _json_reply(400, {"success": False, "error": error})


def _retry_after(seconds: float) -> str:
    # HTTP says whole seconds; a fraction is kept as is so fast tests can ask for
    # 0.2 s, and a robust client reads either.
    whole = int(seconds)
    return str(whole) if whole == seconds else str(seconds)


def _refusal(fault: Fault, config: SandboxConfig) -> _Outcome:
    """The answer of a fault that strikes before the request is processed."""
    match fault:
        case Fault.UNAVAILABLE:
            retry_after = ("retry-after", _retry_after(config.retry_after))
            return _Reply(503, _PAGE_503, (_HTML_TYPE, retry_after))
        case Fault.RATE_LIMITED | Fault.UNAVAILABLE_JSON:
            return _busy(429 if fault is Fault.RATE_LIMITED else 503, config)
        case Fault.GATEWAY_HTML:
            return _Reply(502, _PAGE_502, (_HTML_TYPE,))
        case Fault.DROP_BEFORE_CREATE:
            return _Drop()
        case _:
            raise ValueError(f"fault {fault} strikes after processing")


def _after_processing(fault: Fault, reply: _Reply, config: SandboxConfig) -> _Outcome:
    """What replaces the true answer `reply` of a request that was processed."""
    match fault:
        case Fault.ERROR_AFTER_CREATE:
            return _Reply(500, _PAGE_500, (_HTML_TYPE,))
        case Fault.DROP_AFTER_CREATE:
            return _Drop()
        case Fault.SLOW:
            return _Stall(config.slow_seconds, reply)
        case _:
            raise ValueError(f"fault {fault} strikes before processing")


# --- Captorra's rules, as documented ---


def _reject_constant(name: str) -> NoReturn:
    # Python's json accepts NaN and Infinity; JSON (and Captorra's parser) does not.
    raise ValueError(f"{name} is not JSON")


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return document if isinstance(document, dict) else None


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _is_guid(value: object) -> bool:
    return isinstance(value, str) and GUID_PATTERN.fullmatch(value.lower()) is not None


def _is_known(guid: object, known: frozenset[str]) -> bool:
    return not known or (isinstance(guid, str) and guid.lower() in known)


def _rejection(
    payload: Mapping[str, Any], *, referrers: frozenset[str], types: frozenset[str]
) -> str | None:
    """The documented error for `payload`, or None when it creates an intake."""
    for name, message in _REQUIRED_MESSAGES:
        if _is_blank(payload.get(name)):
            return message
    guids = [(payload["Referrer"], referrers)]
    if not _is_blank(payload.get("Type")):
        guids.append((payload["Type"], types))
    if not all(_is_guid(guid) for guid, _ in guids):
        return ApiError.INVALID_GUID
    if not all(_is_known(guid, known) for guid, known in guids):
        return ApiError.UNKNOWN_GUID
    return None


def _append_record(path: Path, intake_id: str, payload: Mapping[str, Any]) -> None:
    # ASCII-only JSON, so no reader can split a line at U+2028 and friends.
    line = (json.dumps({"IntakeID": intake_id, "payload": payload}) + "\n").encode()
    # One write() on an O_APPEND descriptor: the line is on disk before the client
    # hears anything, and lines from several servers sharing the file never interleave.
    # 0o600: the payloads are personal data.
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        written = os.write(descriptor, line)
    finally:
        os.close(descriptor)
    if written != len(line):
        raise OSError(f"short write to {path}: {written} of {len(line)} bytes")


class Sandbox:
    """One simulated Captorra organization: its rules, its faults, its created intakes."""

    def __init__(self, config: SandboxConfig = SandboxConfig()) -> None:
        self._config = config
        self._referrers = frozenset(guid.lower() for guid in config.referrers)
        self._types = frozenset(guid.lower() for guid in config.types)
        self._random = random.Random(config.seed)
        self._intakes: list[tuple[str, dict[str, Any]]] = []
        self.requests = 0  # every request answered, created or not
        self._app = _starlette_app(self._answer)

    @property
    def intakes(self) -> list[tuple[str, dict[str, Any]]]:
        """(IntakeID, payload) of every intake created so far, oldest first (a copy)."""
        return list(self._intakes)

    def transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport that answers in process: nothing leaves the process."""
        return _InProcessTransport(self._answer)

    @property
    def app(self) -> Starlette:
        """The sandbox as an ASGI app, for uvicorn (see `serve`)."""
        return self._app

    async def _answer(self, body: bytes) -> _Outcome:
        self.requests += 1
        outcome = await self._answer_at_once(body)
        if self._config.trickle > 0 and isinstance(outcome, _Reply):
            return _Trickle(self._config.trickle, outcome)
        return outcome

    async def _answer_at_once(self, body: bytes) -> _Outcome:
        if self._config.latency > 0:
            await asyncio.sleep(self._config.latency)
        fixed = _status_reply(self._config)
        if fixed is not None:
            return fixed
        fault = self._draw_fault()
        if fault is None:
            return self._process(body)
        if not fault.creates_intake:
            return _refusal(fault, self._config)
        return _after_processing(fault, self._process(body), self._config)

    def _draw_fault(self) -> Fault | None:
        if self._random.random() >= self._config.fault_rate:
            return None
        return self._random.choice(self._config.faults)

    def _process(self, body: bytes) -> _Reply:
        payload = _json_object(body)
        if payload is None:
            return _rejected(ApiError.JSON_SYNTAX)
        error = _rejection(payload, referrers=self._referrers, types=self._types)
        if error is not None:
            return _rejected(error)
        if self._config.reject_with is not None:
            return _rejected(self._config.reject_with)
        return _created(self._create(payload), self._config.answer_style)

    def _create(self, payload: dict[str, Any]) -> str:
        intake_id = str(uuid.uuid4())
        if self._config.record is not None:
            _append_record(self._config.record, intake_id, payload)
        self._intakes.append((intake_id, payload))
        return intake_id


def _misrouted(method: str, path: str) -> _Reply | None:
    # The in-process transport answers a wrong URL or method as Starlette's router does.
    if path not in _PATHS:
        return _Reply(404, b"Not Found", (_TEXT_TYPE,))
    if method != "POST":
        return _Reply(405, b"Method Not Allowed", (_TEXT_TYPE, ("allow", "POST")))
    return None


# --- Front end 1: an httpx transport ---


class _InProcessTransport(httpx.AsyncBaseTransport):
    def __init__(self, answer: _Answer) -> None:
        self._answer = answer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # A network transport always awaits I/O; this one could answer every lead
        # without ever giving the event loop a turn, and a Stop (or any other task
        # watching the send) would then wait until the last lead was posted.
        await asyncio.sleep(0)
        outcome: _Outcome | None = _misrouted(request.method, request.url.path)
        if outcome is None:
            outcome = await self._answer(await request.aread())
        if isinstance(outcome, _Drop):
            raise httpx.RemoteProtocolError(_DISCONNECTED, request=request)
        if isinstance(outcome, _Stall):
            return await _late_response(outcome, request)
        if isinstance(outcome, _Trickle):
            seconds = outcome.seconds * max(1, len(outcome.reply.body))
            return await _late_response(_Stall(seconds, outcome.reply), request)
        return _httpx_response(outcome, request)


def _httpx_response(reply: _Reply, request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        reply.status, headers=list(reply.headers), content=reply.body, request=request
    )


async def _late_response(stall: _Stall, request: httpx.Request) -> httpx.Response:
    # Waits as long as the client would: it gives up at its read timeout, or it
    # gets the answer if that comes first.
    read_timeout = request.extensions.get("timeout", {}).get("read")
    if read_timeout is not None and read_timeout < stall.seconds:
        await asyncio.sleep(read_timeout)
        raise httpx.ReadTimeout(_READ_TIMED_OUT, request=request)
    await asyncio.sleep(stall.seconds)
    return _httpx_response(stall.reply, request)


# --- Front end 2: an ASGI app ---


def _starlette_app(answer: _Answer) -> Starlette:
    async def endpoint(request: Request) -> Response:
        return _starlette_response(await answer(await request.body()))

    app = Starlette(routes=[Route(path, endpoint, methods=["POST"]) for path in _PATHS])
    # A trailing slash is a wrong URL, as in process, not a redirect.
    app.router.redirect_slashes = False
    return app


def _starlette_response(outcome: _Outcome) -> Response:
    if isinstance(outcome, _Drop):
        return _DroppedConnection()
    if isinstance(outcome, _Stall):
        return _LateResponse(outcome)
    if isinstance(outcome, _Trickle):
        return _trickled(outcome)
    return Response(outcome.body, outcome.status, dict(outcome.headers))


def _trickled(trickle: _Trickle) -> StreamingResponse:
    reply = trickle.reply

    async def one_byte_at_a_time() -> AsyncIterator[bytes]:
        for index in range(len(reply.body)):
            await asyncio.sleep(trickle.seconds)
            yield reply.body[index : index + 1]

    headers = {**dict(reply.headers), "content-length": str(len(reply.body))}
    return StreamingResponse(one_byte_at_a_time(), reply.status, headers)


async def _client_gone(receive: Receive) -> None:
    # Once the body is read, the server's next message is the client's disconnect.
    while (await receive())["type"] != "http.disconnect":
        pass


class _LateResponse(Response):
    def __init__(self, stall: _Stall) -> None:
        super().__init__(stall.reply.body, stall.reply.status, dict(stall.reply.headers))
        self._seconds = stall.seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A client that gave up is not waiting any more; stopping early keeps the
        # server's shutdown prompt. Sending to it afterwards is a no-op.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_client_gone(receive), self._seconds)
        await super().__call__(scope, receive, send)


class _DroppedConnection(Response):
    """Closes the connection so the client sees no answer at all."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        transport = _connection_transport(receive)
        if transport is None:
            # Fallback: promise a body and never send it; uvicorn then closes the
            # connection, and the client fails reading the body.
            headers = [(b"content-length", b"1")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            return
        transport.abort()
        await _client_gone(receive)


def _connection_transport(receive: Receive) -> asyncio.Transport | None:
    # ASGI has no way to drop a connection unanswered. uvicorn's `receive` is a
    # method of its request cycle, which holds the connection's transport; using
    # it gives a clean drop (no bytes, no error log).
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    return transport if isinstance(transport, asyncio.Transport) else None


# --- Serving over HTTP ---


def _endpoint_url(host: str, listener: socket.socket, *, tls: bool = False) -> str:
    port = listener.getsockname()[1]
    netloc_host = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{netloc_host}:{port}{SANDBOX_PATH}"


def serve(
    config: SandboxConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    on_ready: Callable[[str], None] | None = None,
    tls: tuple[Path, Path] | None = None,
) -> None:
    """Serve a sandbox over HTTP until Ctrl-C; port 0 picks a free port.

    `on_ready(endpoint_url)` is called once the server accepts connections.
    `tls` (certificate chain, private key; PEM files) serves https.
    Returns normally after Ctrl-C (uvicorn finishes in-flight answers first; a
    slow answer holds it up one second at most).
    """
    sandbox = Sandbox(config)
    with listening_socket(host, port) as listener:
        url = _endpoint_url(host, listener, tls=tls is not None)
        serve_until_interrupted(
            sandbox.app, listener, on_started=lambda: on_ready(url) if on_ready else None, tls=tls
        )


@contextmanager
def running_server(
    config: SandboxConfig, *, host: str = "127.0.0.1", tls: tuple[Path, Path] | None = None
) -> Iterator[tuple[str, Sandbox]]:
    """Run a sandbox server on a free port in a background thread, for tests and benchmarks.

    Yields (endpoint_url, sandbox) once the server accepts connections, and
    stops it on exit.
    """
    sandbox = Sandbox(config)
    with (
        listening_socket(host, 0) as listener,
        serving_in_thread(sandbox.app, listener, name="sandbox", tls=tls),
    ):
        yield _endpoint_url(host, listener, tls=tls is not None), sandbox
