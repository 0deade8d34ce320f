"""Posting leads to Captorra: one JSON POST per lead, many in flight at once.

The rule behind everything here: a lead is sent again only when the earlier
attempt cannot have created it, or may have but got no answer at all. An
answer that was received and not understood is never a reason to send again.

Guarantees:
- an answer is judged by its body first: a `success` read liberally (any case,
  `true`/`"true"`/`1`/`"yes"`; at the top level or inside a `d`/`data`/`result`
  wrapper; the IntakeID under any spelling of the key, even in the broken quote
  Captorra's page prints) is `posted`, with a warning when no IntakeID came
  back; `success: false` is `rejected` (never retried, Error is Captorra's text,
  cut only past 2,000 characters);
- a 2xx that is neither is `unconfirmed`: it may have created the lead, so it
  is never sent again automatically (the journal holds it like a post);
- 429 and 503 say the request was not processed, whatever their body: they are
  retried, honouring `Retry-After` up to `max_retry_after`; a longer wait stops
  the run as the breaker does;
- answers that prove the endpoint or the network is misconfigured (a redirect,
  401/403/404/405/410, a certificate or DNS failure, or a 2xx that is not
  Captorra's for the first answers of a run) stop the run at once: a
  *configuration stop*. Nothing they answered was created, so they carry no
  duplicate warning. So does the same rejection over and over before any lead
  was created (the mapping is wrong);
- other transient failures (connection errors, timeouts, 5xx, unreadable
  non-2xx answers) are retried with exponential backoff and full jitter, up to
  `retries` times, then the row is `failed`;
- an attempt that may have reached Captorra without an answer (a timeout, a
  connection dropped after sending, 500/502/504) is *ambiguous*: a lead sent
  again after one is flagged in Warnings, because Captorra has no idempotency
  key; with `on_unanswered="hold"` it is `unconfirmed` instead of sent again;
- `timeout` bounds the whole attempt: connecting, sending and the complete
  answer;
- after `breaker_after` consecutive transient failures the endpoint is taken
  as down: nothing more is sent and the rows not sent say why;
- a stop request (Ctrl-C, a Stop button) ends every wait at once, lets
  requests in flight finish and starts no more;
- every step is in the ledger (the journal) before it is acted on: the steps of
  leads that reach the same point at the same moment share one transaction
  (group commit), and a request leaves only after its "sending" is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import http
import ipaddress
import json
import logging
import os
import random
import re
import ssl
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import urlsplit

import aiohttp
import certifi
import httpx
import truststore
import yarl

from importer.errors import EndpointError, JournalError, UsageError

log = logging.getLogger("captorra_importer")

Status = Literal["posted", "rejected", "failed", "already_posted", "unconfirmed", "duplicate"]
OnUnanswered = Literal["resend", "hold"]
RESENT_WARNING = "sent again after an unanswered attempt; check Captorra for a duplicate"
NO_INTAKE_ID_WARNING = "Captorra confirmed the lead but returned no IntakeID"
USER_AGENT = f"captorra-importer/{metadata.version('captorra-importer')}"
_JSON = {"Content-Type": "application/json"}
_HEADERS = {"Accept": "application/json", "User-Agent": USER_AGENT}
EXCERPT_CHARS = 120  # of an answer that is not Captorra's
ERROR_CHARS = 2000  # of Captorra's own error text: kept whole up to here
FOREIGN_STOP_AFTER = 5  # non-Captorra 2xx answers in a row, at the start, that stop a run
# Leads claimed in one journal transaction. A claim costs mostly the pages it
# writes, shared by the leads of one claim; at this size a claim writes well under
# a megabyte (a nearly full disk still takes some), and the first request waits
# for only one.
CLAIM_LEADS = 64
_CONFIG_STATUSES = frozenset({401, 403, 404, 405, 410})
_NOT_PROCESSED = frozenset({429, 503})  # the server says it did not process the request


@dataclass(frozen=True)
class PostSettings:
    endpoint: str
    concurrency: int = 8
    rate: float | None = None  # requests per second, None = no cap
    # Longer than Captorra's own plugin waits (45 s): a slow create must not become
    # a duplicate because we gave up first.
    timeout: float = 60.0
    retries: int = 5
    breaker_after: int = 20
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    log_payloads: bool = False
    max_retry_after: float = 300.0  # a server asking for longer is taken as down for this run
    stop_after_same_rejection: int = 10  # 0: never
    on_unanswered: OnUnanswered = "resend"
    proxy: str | None = None  # None: the standard proxy variables decide
    ca_bundle: Path | None = None  # trusted besides certifi and the system's store


@dataclass(frozen=True)
class Lead:
    row: int
    payload: dict[str, str]
    key: str  # the lead key (see lead_key.py); never logged
    contacts: tuple[tuple[str, str], ...] = ()  # (kind, keyed hash) of its phones and email


@dataclass
class Outcome:
    row: int
    status: Status
    intake_id: str = ""
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    attempts: int = 0
    # An attempt went unanswered and no later one was: Captorra may hold the lead.
    unanswered: bool = False
    # For a rejection about the Type GUID: the Type sent, so summaries can group by it.
    type_guid: str = ""


class Ledger(Protocol):
    """Where attempts and answers are recorded before and after each request (the journal)."""

    def claim(self, leads: Sequence[Lead]) -> list[Outcome | bool]:
        """For each lead, an Outcome to skip it (already posted, claimed elsewhere),
        else whether an earlier attempt went unanswered."""

    def attempting(self, lead: Lead) -> None: ...

    def answered(self, lead: Lead, outcome: Outcome) -> None: ...

    def batch(self) -> AbstractContextManager[None]:
        """One transaction around several of the calls above, committed at its end."""


_T = TypeVar("_T")


class GroupCommit:
    """Ledger calls made in the same turn of the event loop share one transaction.

    Each caller waits until the transaction holding its call has committed, so a
    request still leaves only after its "sending" is durable. The calls of a group
    run in order; the first that fails fails the rest of its group too (they get
    its error) while the ones before it are committed; if the commit itself fails,
    every call of the group gets that error. Per lead this costs a fraction of a
    commit instead of three.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._calls: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []

    async def call(self, step: Callable[..., _T], *args: Any) -> _T:
        loop = asyncio.get_running_loop()
        if not self._calls:
            loop.call_soon(self._commit)
        future: asyncio.Future[_T] = loop.create_future()
        self._calls.append((functools.partial(step, *args), future))
        return await future

    def _commit(self) -> None:
        calls, self._calls = self._calls, []
        results: list[Any] = []
        error: BaseException | None = None
        try:
            with self.ledger.batch():
                for step, _ in calls:
                    try:
                        results.append(step())
                    except JournalError as failed:
                        error = failed
                        break
        except Exception as failed:  # the commit: nothing of this group is recorded
            error, results = failed, []
        for position, (_, future) in enumerate(calls):
            if future.done():  # its caller was cancelled
                continue
            if position < len(results):
                future.set_result(results[position])
            else:
                assert error is not None
                future.set_exception(error)


# ---------------------------------------------------------------- endpoint and client


def check_endpoint(url: str) -> str:
    """Refuse anything but HTTPS, except plain HTTP to this machine (the sandbox)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise EndpointError(f"endpoint {url!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise EndpointError(
            f"endpoint {url} uses plain http to another machine; leads are personal data, "
            "so use https (plain http is allowed only to 127.0.0.1/localhost)"
        )
    return url


def check_proxy(url: str) -> str:
    """A proxy URL the client can use: http:// (https is then tunnelled with CONNECT)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise UsageError(
            f"proxy {url!r} is not an http:// proxy URL (e.g. http://proxy.example.com:3128)"
        )
    return url


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always this machine
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def ssl_context(ca_bundle: Path | None = None) -> ssl.SSLContext:
    """Verification against the system's trust store, certifi, and what the user adds.

    truststore asks the operating system (as pip does), so a corporate CA
    installed in Windows or macOS just works; certifi covers machines whose
    store is empty or stale; SSL_CERT_FILE/SSL_CERT_DIR and `ca_bundle` add a
    CA the operator names. Verification is never turned off.
    """
    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=certifi.where())
    extra: list[tuple[str, Path]] = [
        (name, Path(os.environ[name]))
        for name in ("SSL_CERT_FILE", "SSL_CERT_DIR")
        if os.environ.get(name)
    ]
    if ca_bundle is not None:
        extra.append(("--ca-bundle", ca_bundle))
    for name, path in extra:
        try:
            if path.is_dir():
                context.load_verify_locations(capath=str(path))
            else:
                context.load_verify_locations(cafile=str(path))
        except (OSError, ssl.SSLError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise UsageError(
                f"{name} {path}: cannot be read as PEM certificates ({reason}); "
                "give a file of -----BEGIN CERTIFICATE----- blocks"
            ) from None
    return context


def environment_proxy(endpoint: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy the standard variables give `endpoint`, or None to connect directly.

    `HTTPS_PROXY` for https, `HTTP_PROXY` for http, `ALL_PROXY` for both, in
    upper or lower case, unless `NO_PROXY` names the host, one of its parent
    domains, or `*`. `environ` defaults to this process's environment.
    """
    if environ is None:
        proxies = urllib.request.getproxies_environment()
    else:
        proxies = {
            key.lower().removesuffix("_proxy"): value
            for key, value in environ.items()
            if key.lower().endswith("_proxy") and value
        }
    parts = urlsplit(endpoint)
    chosen = proxies.get(parts.scheme) or proxies.get("all")
    if not chosen or _bypassed(parts.hostname or "", proxies.get("no", "")):
        return None
    return check_proxy(chosen if "://" in chosen else f"http://{chosen}")


def _bypassed(host: str, no_proxy: str) -> bool:
    for entry in (item.strip().lower().lstrip(".") for item in no_proxy.split(",")):
        if entry == "*" or (entry and (host == entry or host.endswith(f".{entry}"))):
            return True
    return False


class HTTPAnswer(Protocol):
    """What the rules read of an answer; an `httpx.Response` has it too."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...

    @property
    def reason_phrase(self) -> str: ...


@dataclass(frozen=True)
class Received:
    """An answer read whole."""

    status_code: int
    headers: Mapping[str, str]  # case-insensitive
    content: bytes
    reason_phrase: str = ""


class EndpointClient(contextlib.AbstractAsyncContextManager["EndpointClient"]):
    """POSTs a body to the endpoint and reads the whole answer; TLS is always verified."""

    async def post(self, body: bytes) -> HTTPAnswer:
        raise NotImplementedError

    async def __aexit__(self, *exc_info: object) -> None:
        return None


# Errors of a request that got no answer (see interpret_failure).
SEND_FAILURES = (httpx.TransportError, aiohttp.ClientError, OSError)


class AiohttpClient(EndpointClient):
    """The endpoint through aiohttp itself: half the CPU a request of an httpx client.

    Each request stands alone: no cookies are kept and redirects are not
    followed (a redirect is a configuration problem, see `interpret`). The proxy
    is `settings.proxy`, else the standard variables' (see `environment_proxy`);
    https goes through it in a CONNECT tunnel, and credentials in its URL are sent
    to it as Proxy-Authorization.
    """

    def __init__(self, settings: PostSettings) -> None:
        self.settings = settings
        self._url = yarl.URL(settings.endpoint)
        self._proxy = (
            check_proxy(settings.proxy) if settings.proxy else environment_proxy(settings.endpoint)
        )
        self.ssl_context = ssl_context(settings.ca_bundle)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AiohttpClient:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.settings.concurrency, ssl=self.ssl_context),
            headers={**_HEADERS, **_JSON},
            cookie_jar=aiohttp.DummyCookieJar(),
            # The Poster bounds each whole attempt itself; a connection that cannot
            # even be opened in that time is one that was never sent.
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.settings.timeout),
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, body: bytes) -> Received:
        assert self._session is not None, "use it in `async with`"
        async with self._session.post(
            self._url, data=body, proxy=self._proxy, allow_redirects=False
        ) as response:
            content = await response.read()
            return Received(response.status, response.headers, content, response.reason or "")


class HttpxTransportClient(EndpointClient):
    """The endpoint through an httpx transport: the in-process sandbox, and tests' fakes."""

    def __init__(self, settings: PostSettings, transport: httpx.AsyncBaseTransport) -> None:
        self._url = httpx.URL(settings.endpoint)
        self._client = httpx.AsyncClient(
            transport=transport,
            headers=_HEADERS,
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=False,
        )

    async def __aenter__(self) -> HttpxTransportClient:
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.aclose()

    async def post(self, body: bytes) -> httpx.Response:
        return await self._client.post(self._url, content=body, headers=_JSON)


def make_client(
    settings: PostSettings, transport: httpx.AsyncBaseTransport | None = None
) -> EndpointClient:
    """A client for the endpoint: through `transport` when one is given (sandbox, tests)."""
    if transport is not None:
        return HttpxTransportClient(settings, transport)
    return AiohttpClient(settings)


# ---------------------------------------------------------------- answers


AnswerKind = Literal["posted", "rejected", "transient", "unconfirmed", "misconfigured"]


@dataclass(frozen=True)
class Answer:
    """What one attempt came to."""

    kind: AnswerKind
    intake_id: str = ""
    error: str = ""
    ambiguous: bool = False  # the lead may have been created despite no good answer
    retry_after: float | None = None
    warning: str = ""


_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_WRAPPERS = frozenset({"d", "data", "result"})
_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# Captorra's page prints `"IntakeID: "<guid>"`: recover a success in that shape too.
_TYPO_SUCCESS = re.compile(r'"success"\s*:\s*(?:true\b|1\b|"(?:true|1|yes)")', re.IGNORECASE)
_TYPO_INTAKE_ID = re.compile(r"intake[\s_-]?id\W{0,6}(" + _GUID + ")", re.IGNORECASE)


def interpret(response: HTTPAnswer, endpoint: str = "the endpoint") -> Answer:
    """Judge an HTTP answer from `endpoint`; see the module docstring."""
    status = response.status_code
    if status in _NOT_PROCESSED:
        return Answer(
            "transient",
            error=f"HTTP {status}: {_reason(response)} {_excerpt(response.content)}",
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )
    captorra = _captorra_answer(response.content)
    if captorra is not None:
        return captorra
    if 300 <= status < 400 or status in _CONFIG_STATUSES:
        return Answer("misconfigured", error=_configuration_problem(response, endpoint))
    if 200 <= status < 300:
        return Answer(
            "unconfirmed",
            error=(
                f"HTTP {status}: not an answer Captorra gives {_excerpt(response.content)}; "
                "the lead may have been created: check Captorra before sending it again"
            ),
        )
    return Answer(
        "transient",
        error=f"HTTP {status}: unexpected answer {_excerpt(response.content)}",
        ambiguous=True,  # anything but 429/503 may have been processed
        retry_after=_retry_after(response.headers.get("Retry-After")),
    )


def _captorra_answer(content: bytes) -> Answer | None:
    """A success or a rejection in any shape Captorra-like servers use; None otherwise."""
    document = _json_object(content)
    if document is None:
        return _typo_success(content)
    if document.get("success") is True and document.get("IntakeID"):  # documented: the fast path
        return Answer("posted", intake_id=str(document["IntakeID"]))
    body = _normalised(document)
    # ASP.NET services answer {"d": ...}, often with the JSON as a string inside.
    wrapped = [
        _json_object(v) if isinstance(v, str) else v for k, v in body.items() if k in _WRAPPERS
    ]
    candidates = [body, *(_normalised(value) for value in wrapped if isinstance(value, dict))]
    for candidate in candidates:
        success = _truth(candidate.get("success"))
        if success is True:
            intake_id = next(
                (str(v) for c in candidates if (v := c.get("intakeid")) not in (None, "")), ""
            )
            return Answer(
                "posted", intake_id=intake_id, warning="" if intake_id else NO_INTAKE_ID_WARNING
            )
        if success is False:
            return Answer("rejected", error=_error_text(candidate))
    return None


def _typo_success(content: bytes) -> Answer | None:
    text = content.decode("utf-8", "replace").strip()
    # Only a body meant as a JSON object: a page that merely mentions "success" is not one.
    if not (text.startswith("{") and text.endswith("}") and _TYPO_SUCCESS.search(text)):
        return None
    found = _TYPO_INTAKE_ID.search(text)
    intake_id = found.group(1) if found else ""
    return Answer("posted", intake_id=intake_id, warning="" if intake_id else NO_INTAKE_ID_WARNING)


_IGNORED_IN_KEYS = str.maketrans("", "", " \t\r\n_-")


def _normalised(body: dict[str, Any]) -> dict[str, Any]:
    """Keys without case, spaces, `_` or `-` (`Intake_ID` -> `intakeid`); the first one wins."""
    found: dict[str, Any] = {}
    for key, value in body.items():
        found.setdefault(str(key).translate(_IGNORED_IN_KEYS).casefold(), value)
    return found


def _truth(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return True if value == 1 else False if value == 0 else None
    if isinstance(value, str):
        text = value.strip().casefold()
        return True if text in _TRUE else False if text in _FALSE else None
    return None


def _error_text(body: dict[str, Any]) -> str:
    value = body.get("error") or body.get("message")
    if not value:
        return "rejected without a reason"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS] + "..."


def _json_object(content: bytes | str) -> dict[str, Any] | None:
    try:
        body = json.loads(content)
        if isinstance(body, str):  # some gateways wrap the JSON answer in a JSON string
            body = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _excerpt(content: bytes) -> str:
    text = " ".join(content.decode("utf-8", "replace").split())
    if not text:
        return "(empty body)"
    return repr(text[:EXCERPT_CHARS] + ("..." if len(text) > EXCERPT_CHARS else ""))


def _reason(response: HTTPAnswer) -> str:
    try:
        return http.HTTPStatus(response.status_code).phrase
    except ValueError:
        return response.reason_phrase or "unknown status"


_ENDPOINT_FIX = "is the endpoint URL right? (--endpoint / CAPTORRA_ENDPOINT)"


def _configuration_problem(response: HTTPAnswer, endpoint: str) -> str:
    """One line: what the endpoint answered, what it means, what to do."""
    status = response.status_code
    said = f"{endpoint} answered {status} {_reason(response)}"
    if 300 <= status < 400:
        location = response.headers.get("Location", "(no Location)")
        return (
            f"{said}, redirecting to {location}: Captorra's API does not redirect; "
            f"{_ENDPOINT_FIX}; a redirect to a login page means a proxy or portal "
            "wants you to sign in; nothing was created"
        )
    if status in {401, 403}:
        return (
            f"{said}: the server refuses this client (credentials, an IP allow-list or "
            "a firewall?); ask Captorra or your network administrator to allow this "
            f"machine, and check the endpoint URL; nothing was created"
        )
    if status == 405:
        return f"{said}: that URL does not take POSTs; {_ENDPOINT_FIX}; nothing was created"
    return f"{said}: {_ENDPOINT_FIX}; nothing was created"


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (ValueError, TypeError):
            return None
    return max(0.0, seconds)


def interpret_failure(error: Exception, url: str = "", *, timeout: float | None = None) -> Answer:
    """A request that got no answer: ambiguous unless it never left this machine.

    Certificate, TLS and DNS failures are configuration problems: they do not
    pass with time, and nothing was sent. `error` is aiohttp's, or an httpx
    transport's (which may carry aiohttp's as its cause).
    """
    parts = urlsplit(url)
    host = parts.hostname or "the endpoint"
    where = f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    if isinstance(error, TimeoutError) and not isinstance(error, aiohttp.ClientError):
        within = f" (--timeout {timeout:g} s)" if timeout else ""  # the whole-attempt deadline
        return Answer(
            "transient", error=f"no complete answer within the timeout{within}", ambiguous=True
        )
    cause = error.__cause__ if isinstance(error.__cause__, aiohttp.ClientError) else error
    if isinstance(cause, aiohttp.ClientConnectorCertificateError):
        reason = getattr(cause.certificate_error, "verify_message", "") or str(
            cause.certificate_error
        )
        return Answer(
            "misconfigured",
            error=(
                f"the TLS certificate of {where} is not trusted: {reason}; if your network "
                "inspects HTTPS, give its CA certificate with --ca-bundle FILE (or "
                "SSL_CERT_FILE); nothing was sent"
            ),
        )
    if isinstance(cause, aiohttp.ClientConnectorSSLError):
        return Answer(
            "misconfigured",
            error=(
                f"TLS with {where} failed ({_os_reason(cause)}): is it an https server? "
                f"{_ENDPOINT_FIX}; nothing was sent"
            ),
        )
    if isinstance(cause, aiohttp.ClientConnectorDNSError):
        return Answer(
            "misconfigured",
            error=(
                f"the name {host} does not resolve ({_os_reason(cause)}): {_ENDPOINT_FIX}; if "
                "this network reaches the internet through a proxy, set HTTPS_PROXY or "
                "--proxy; nothing was sent"
            ),
        )
    if isinstance(cause, aiohttp.ClientHttpProxyError):
        text = f"the proxy refused to connect to {where}: {cause.status} {cause.message}"
        if cause.status in {401, 403, 407}:
            return Answer(
                "misconfigured",
                error=f"{text}; check the proxy's credentials (http://user:password@proxy:port)"
                " and that it allows this host; nothing was sent",
            )
        return Answer("transient", error=text)
    if isinstance(cause, aiohttp.ClientProxyConnectionError):
        return Answer("transient", error=f"cannot connect to the proxy ({_os_reason(cause)})")
    if _never_sent(cause):
        refused = isinstance(getattr(cause, "os_error", None), ConnectionRefusedError)
        if refused or isinstance(error.__context__, ConnectionRefusedError):
            return Answer("transient", error=f"connection refused by {where}")
        return Answer("transient", error=f"cannot connect to {where} ({_first_line(cause)})")
    return Answer("transient", error=_describe_failure(cause), ambiguous=True)


def _os_reason(error: aiohttp.ClientConnectorError) -> str:
    os_error = error.os_error
    return str(getattr(os_error, "strerror", None) or os_error or error)


def _never_sent(error: BaseException) -> bool:
    # aiohttp's connection errors all come before the request is written; of an httpx
    # transport's, only these.
    return isinstance(
        error,
        aiohttp.ClientConnectorError
        | aiohttp.ConnectionTimeoutError
        | httpx.ConnectError
        | httpx.ConnectTimeout
        | httpx.PoolTimeout,
    )


def _describe_failure(error: BaseException) -> str:
    if isinstance(error, aiohttp.ServerDisconnectedError | httpx.RemoteProtocolError):
        return "connection dropped without an answer"
    if isinstance(error, aiohttp.ServerTimeoutError | httpx.TimeoutException):
        return "no answer within the timeout"
    return f"connection failed ({_first_line(error)})"


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:EXCERPT_CHARS]


def refusal_hint(error: str) -> str:
    """Which part of the mapping a rejection of every lead most likely points at."""
    if "Type GUID" in error or "Invalid GUID" in error:
        return "the Referrer GUID (CAPTORRA_REFERRER) or the Type lookup of the mapping"
    if "CaptorraId" in error:
        return "the CaptorraId of the mapping (CAPTORRA_ID)"
    for name in ("First", "Last", "Referrer"):
        if error.strip().endswith(f"provide {name}"):
            return f"the {name} field of the mapping"
    return "the mapping (compare it with Captorra's text)"


# ---------------------------------------------------------------- sending


class RateLimiter:
    """Spaces request starts at least 1/rate seconds apart."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0

    def delay(self) -> float:
        """Reserve the next start; how long to wait for it."""
        if not self._interval:
            return 0.0
        now = time.monotonic()
        start = max(now, self._next)
        self._next = start + self._interval
        return start - now


# interrupted: Ctrl-C, Stop or cancel; unavailable: the endpoint seems down (exit 3);
# endpoint/mapping: a configuration stop (exit 2): the endpoint or network is
# misconfigured (the whole run), or every lead is refused alike (this file's mapping);
# journal: the journal cannot be written.
StopKind = Literal["interrupted", "unavailable", "endpoint", "mapping", "journal"]


@dataclass
class StopReason:
    """Why sending stopped early, if it did: shared by every worker."""

    text: str = ""
    kind: StopKind | None = None

    def __bool__(self) -> bool:
        return bool(self.text)

    @property
    def configuration(self) -> bool:
        """A stop that re-running cannot cure: someone must fix the setup first."""
        return self.kind in {"endpoint", "mapping"}


class Poster:
    """Posts leads with `concurrency` workers; see the module docstring for the rules."""

    def __init__(
        self,
        client: EndpointClient,
        settings: PostSettings,
        *,
        ledger: Ledger | None = None,
        on_outcome: Callable[[Outcome], None] = lambda outcome: None,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.ledger = ledger
        self._journal = GroupCommit(ledger) if ledger is not None else None
        self.on_outcome = on_outcome
        self.stopped = StopReason()
        self.journal_error: JournalError | None = None
        self._rng = rng or random.Random()
        self._limiter = RateLimiter(settings.rate)
        self._wake = asyncio.Event()  # set by stop(): every wait ends at once
        self._failures_in_a_row = 0
        self._captorra_answered = False  # a Captorra-shaped answer came this run
        self._foreign_in_a_row = 0
        self._posted_any = False  # in this file
        self._same_rejection = ("", 0)

    def stop(self, reason: str, kind: StopKind = "interrupted") -> None:
        """Start no more requests and end every wait; requests in flight finish."""
        if not self.stopped:
            self.stopped.text = reason
            self.stopped.kind = kind
        self._wake.set()

    def start_file(self) -> None:
        """A new input: a stop about the last file's mapping does not concern it."""
        self._posted_any = False
        self._same_rejection = ("", 0)
        if self.stopped.kind == "mapping":
            self.stopped = StopReason()
            self._wake.clear()

    async def post_all(self, leads: Sequence[Lead]) -> dict[int, Outcome]:
        """Post a list of leads; their outcomes by row."""
        batches: asyncio.Queue[Sequence[Lead] | None] = asyncio.Queue()
        batches.put_nowait(leads)
        batches.put_nowait(None)
        outcomes: dict[int, Outcome] = {}
        await self.serve(batches, lambda outcome: outcomes.__setitem__(outcome.row, outcome))
        return outcomes

    async def serve(
        self,
        batches: asyncio.Queue[Sequence[Lead] | None],
        answered: Callable[[Outcome], None],
    ) -> None:
        """Post the leads of the batches put in `batches`, with `concurrency` workers.

        The feeder ends with `None`. Each batch is claimed in the ledger at once
        (one step for all its leads), then its leads go to the workers. Each
        outcome goes to `answered` (and `on_outcome`) as soon as it is known. A
        worker takes its next lead as soon as it is free, so the window of
        requests in flight never drains while leads are waiting.
        """
        claimed: asyncio.Queue[tuple[Lead, bool] | None] = asyncio.Queue(
            maxsize=self.settings.concurrency
        )

        def report(outcome: Outcome) -> None:
            answered(outcome)
            self.on_outcome(outcome)

        async def claim() -> None:
            while (batch := await batches.get()) is not None:
                for start in range(0, len(batch), CLAIM_LEADS):
                    part = batch[start : start + CLAIM_LEADS]
                    for lead, decision in zip(part, await self._claim(part), strict=True):
                        if isinstance(decision, Outcome):
                            report(decision)
                        else:
                            await claimed.put((lead, decision))
            for _ in range(self.settings.concurrency):
                await claimed.put(None)

        recording: set[asyncio.Task[Outcome]] = set()

        def recorded(task: asyncio.Task[Outcome]) -> None:
            recording.discard(task)
            if not task.cancelled():
                report(task.result())

        async def worker() -> None:
            while (item := await claimed.get()) is not None:
                lead, unanswered = item
                if self.stopped:
                    report(self._not_sent(lead))
                    continue
                outcome = await self._post(lead, unanswered)
                if self.ledger is None or self.journal_error is not None:
                    report(outcome)
                    continue
                # The worker sends its next lead meanwhile: this answer's step shares a
                # commit with that lead's "sending", and is reported once committed.
                task = asyncio.ensure_future(self._record_answer(lead, outcome))
                recording.add(task)
                task.add_done_callback(recorded)

        await asyncio.gather(claim(), *(worker() for _ in range(self.settings.concurrency)))
        await asyncio.gather(*recording)

    async def _claim(self, leads: Sequence[Lead]) -> Sequence[Outcome | bool]:
        """The ledger's decision for each lead (see Ledger.claim), in one step."""
        if self.stopped:
            return [self._not_sent(lead) for lead in leads]
        if self.ledger is None:
            return [False] * len(leads)
        try:
            return await self._record(self.ledger.claim, leads)
        except JournalError as error:
            self._journal_failed(error)
            return [self._not_sent(lead) for lead in leads]

    def _not_sent(self, lead: Lead) -> Outcome:
        return Outcome(lead.row, "failed", error=f"not sent: {self.stopped.text}")

    async def _pause(self, seconds: float) -> None:
        """Sleep, unless a stop comes first."""
        if seconds > 0 and not self._wake.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), seconds)

    async def _post(self, lead: Lead, unanswered: bool) -> Outcome:
        """Send a claimed lead; `unanswered`: an earlier attempt may have created it."""
        if unanswered and self.settings.on_unanswered == "hold":
            return _held(lead.row, "an earlier attempt went unanswered", attempts=0)
        return await self._attempts(lead, unanswered)

    async def _record_answer(self, lead: Lead, outcome: Outcome) -> Outcome:
        """`outcome`, once the ledger holds it."""
        assert self.ledger is not None
        try:
            await self._record(self.ledger.answered, lead, outcome)
        except JournalError as error:
            self._journal_failed(error)
            outcome.warnings.append("not recorded in the journal: a re-run may send it again")
        return outcome

    async def _record(self, step: Callable[..., _T], *args: Any) -> _T:
        """A ledger step, committed with the others of this moment (see GroupCommit)."""
        assert self._journal is not None
        return await self._journal.call(step, *args)

    def _journal_failed(self, error: JournalError) -> None:
        """Nothing may be sent that the journal cannot record: stop, and report it after."""
        self.journal_error = self.journal_error or error
        self.stop("the journal cannot be written", "journal")

    async def _attempts(self, lead: Lead, unanswered: bool) -> Outcome:
        """Send until an answer, a stop, or the retries run out.

        `unanswered` says an earlier attempt (maybe in an earlier run) may have
        created the lead: every send from then on is a possible duplicate.
        """
        # What Captorra's own client sends: PHP's json_encode, pure ASCII.
        body = json.dumps(lead.payload, ensure_ascii=True).encode()
        answer = Answer("transient")
        resent = False
        attempt = 0
        while attempt <= self.settings.retries and not self.stopped:
            if attempt:
                if answer.ambiguous and self.settings.on_unanswered == "hold":
                    return _held(lead.row, answer.error, attempts=attempt)
                await self._back_off(attempt, answer.retry_after)
            await self._pause(self._limiter.delay())
            if self.stopped:
                break
            attempt += 1
            resent = resent or unanswered
            answer = await self._send_once(lead, body, attempt)
            unanswered = unanswered or answer.ambiguous
            if answer.kind != "transient":
                return self._answered(lead, answer, attempt, resent, unanswered)
        if not attempt:
            return self._not_sent(lead)
        error = answer.error
        if self.stopped:
            error = f"{error}; then stopped: {self.stopped.text}"
        return Outcome(
            lead.row,
            "failed",
            error=error,
            warnings=_unanswered_warnings(resent, unanswered),
            attempts=attempt,
            unanswered=unanswered,
        )

    def _answered(
        self, lead: Lead, answer: Answer, attempt: int, resent: bool, unanswered: bool
    ) -> Outcome:
        """The outcome of an attempt that got a final answer."""
        if answer.kind == "misconfigured":
            # This answer proves this attempt created nothing; an earlier one still may have.
            return Outcome(
                lead.row,
                "failed",
                error=answer.error,
                warnings=_unanswered_warnings(resent, unanswered),
                attempts=attempt,
                unanswered=unanswered,
            )
        warnings = [RESENT_WARNING] if resent else []
        if answer.warning:
            warnings.append(answer.warning)
        status: Status = (
            "posted"
            if answer.kind == "posted"
            else "rejected"
            if answer.kind == "rejected"
            else "unconfirmed"
        )
        type_guid = ""
        if status == "rejected" and "Type GUID" in answer.error:
            type_guid = lead.payload.get("Type", "") or "(none)"
        return Outcome(
            lead.row,
            status,
            answer.intake_id,
            answer.error,
            warnings,
            attempt,
            unanswered=status == "unconfirmed",
            type_guid=type_guid,
        )

    async def _send_once(self, lead: Lead, body: bytes, attempt: int) -> Answer:
        if self.ledger is not None:
            try:
                await self._record(self.ledger.attempting, lead)
            except JournalError as error:
                self._journal_failed(error)
                return Answer("transient", error="not sent: the journal cannot be written")
        if self.settings.log_payloads:
            log.debug("row %d attempt %d: sending %s", lead.row, attempt, body.decode())
        try:
            # The whole attempt, not each read: a server trickling bytes must not hold it.
            async with asyncio.timeout(self.settings.timeout):
                response = await self.client.post(body)
            answer = interpret(response, self.settings.endpoint)
        except SEND_FAILURES as error:
            answer = interpret_failure(error, self.settings.endpoint, timeout=self.settings.timeout)
        if answer.kind in {"transient", "misconfigured"}:
            log.info("row %d attempt %d: %s", lead.row, attempt, answer.error)
        self._judge_endpoint(answer)
        return answer

    def _judge_endpoint(self, answer: Answer) -> None:
        """Stop when answers say the endpoint is down or misconfigured, or the mapping wrong."""
        if answer.kind == "misconfigured":
            self.stop(answer.error, "endpoint")
            return
        if answer.kind == "transient":
            self._failures_in_a_row += 1
            if self._failures_in_a_row >= self.settings.breaker_after:
                self.stop(
                    f"endpoint unavailable ({self._failures_in_a_row} failures in a row; "
                    f"last: {answer.error})",
                    "unavailable",
                )
            elif (answer.retry_after or 0) > self.settings.max_retry_after:
                self.stop(
                    f"the server asked to wait {answer.retry_after:.0f} s before retrying "
                    f"(Retry-After), more than --max-retry-after "
                    f"{self.settings.max_retry_after:.0f} s; re-run later",
                    "unavailable",
                )
            return
        self._failures_in_a_row = 0
        if answer.kind == "unconfirmed":
            if not self._captorra_answered:
                self._foreign_in_a_row += 1
                if self._foreign_in_a_row >= FOREIGN_STOP_AFTER:
                    self.stop(
                        f"{self.settings.endpoint} does not answer like Captorra "
                        f"({self._foreign_in_a_row} answers in a row; the last: "
                        f"{answer.error.split(';')[0]}): "
                        f"{_ENDPOINT_FIX}",
                        "endpoint",
                    )
            return
        self._captorra_answered = True
        if answer.kind == "posted":
            self._posted_any = True
            return
        self._count_rejection(answer.error)

    def _count_rejection(self, error: str) -> None:
        text, count = self._same_rejection
        self._same_rejection = (error, count + 1 if error == text else 1)
        limit = self.settings.stop_after_same_rejection
        if limit and not self._posted_any and self._same_rejection[1] >= limit:
            self.stop(
                f"every lead was refused with {error!r} ({limit} in a row, none created): "
                f"{refusal_hint(error)} is likely wrong; fix it and re-run",
                "mapping",
            )

    async def _back_off(self, retry: int, retry_after: float | None) -> None:
        delay = self._rng.uniform(
            0, min(self.settings.backoff_cap, self.settings.backoff_base * 2**retry)
        )
        if retry_after is not None:
            delay = retry_after + self._rng.uniform(0, 0.1)
        await self._pause(delay)


def _unanswered_warnings(resent: bool, unanswered: bool) -> list[str]:
    if resent:
        return [RESENT_WARNING]
    if unanswered:
        return ["an attempt went unanswered; check Captorra before sending it by hand"]
    return []


def _held(row: int, why: str, *, attempts: int) -> Outcome:
    """A lead not sent again under `--on-unanswered hold`: a person checks Captorra first."""
    return Outcome(
        row,
        "unconfirmed",
        error=(
            f"{why}; held, not sent again (--on-unanswered hold): check Captorra, and to send "
            "it anyway re-run with --on-unanswered resend --repost"
        ),
        attempts=attempts,
        unanswered=True,
    )
