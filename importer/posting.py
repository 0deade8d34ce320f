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
  requests in flight finish and starts no more.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import http
import ipaddress
import json
import logging
import os
import random
import re
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import aiohttp
import certifi
import httpx
import truststore
from httpx_aiohttp import HttpxAiohttpClient

from importer.errors import EndpointError, JournalError, UsageError

log = logging.getLogger("captorra_importer")

Status = Literal["posted", "rejected", "failed", "already_posted", "unconfirmed", "duplicate"]
OnUnanswered = Literal["resend", "hold"]
RESENT_WARNING = "sent again after an unanswered attempt; check Captorra for a duplicate"
NO_INTAKE_ID_WARNING = "Captorra confirmed the lead but returned no IntakeID"
USER_AGENT = f"captorra-importer/{metadata.version('captorra-importer')}"
_JSON = {"Content-Type": "application/json"}
EXCERPT_CHARS = 120  # of an answer that is not Captorra's
ERROR_CHARS = 2000  # of Captorra's own error text: kept whole up to here
FOREIGN_STOP_AFTER = 5  # non-Captorra 2xx answers in a row, at the start, that stop a run
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

    def before_send(self, lead: Lead) -> Outcome | bool:
        """An Outcome to skip the lead (already posted, claimed elsewhere), else whether
        an earlier attempt went unanswered."""

    def attempting(self, lead: Lead) -> None: ...

    def answered(self, lead: Lead, outcome: Outcome) -> None: ...


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


def make_client(
    settings: PostSettings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """An HTTP client for the endpoint; TLS verification is always on.

    httpx's own async transport serialises much of its work under load (httpx
    issue #3215); the aiohttp transport keeps the same API and really runs
    `concurrency` requests in parallel. httpx decides the proxy (`proxy`, or
    HTTP(S)_PROXY/ALL_PROXY/NO_PROXY in any case) and mounts an aiohttp
    transport for it, which tunnels https with CONNECT.
    """
    limits = httpx.Limits(
        max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
    )
    options: dict[str, Any] = {
        "timeout": httpx.Timeout(settings.timeout),
        "headers": {"Accept": "application/json", "User-Agent": USER_AGENT},
        "follow_redirects": False,
    }
    if transport is not None:
        return httpx.AsyncClient(transport=transport, **options)
    return HttpxAiohttpClient(
        verify=ssl_context(settings.ca_bundle),
        limits=limits,
        proxy=check_proxy(settings.proxy) if settings.proxy else None,
        trust_env=True,
        **options,
    )


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


def interpret(response: httpx.Response) -> Answer:
    """Judge an HTTP answer; see the module docstring."""
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
        return Answer("misconfigured", error=_configuration_problem(response))
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


def _reason(response: httpx.Response) -> str:
    try:
        return http.HTTPStatus(response.status_code).phrase
    except ValueError:
        return response.reason_phrase or "unknown status"


def _url(response: httpx.Response) -> str:
    try:
        return str(response.request.url)
    except RuntimeError:  # a response built by hand, in tests
        return "the endpoint"


_ENDPOINT_FIX = "is the endpoint URL right? (--endpoint / CAPTORRA_ENDPOINT)"


def _configuration_problem(response: httpx.Response) -> str:
    """One line: what the endpoint answered, what it means, what to do."""
    status = response.status_code
    said = f"{_url(response)} answered {status} {_reason(response)}"
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


def interpret_failure(
    error: Exception, url: httpx.URL | str = "", *, timeout: float | None = None
) -> Answer:
    """A request that got no answer: ambiguous unless it never left this machine.

    Certificate, TLS and DNS failures are configuration problems: they do not
    pass with time, and nothing was sent.
    """
    parts = urlsplit(str(url))
    host = parts.hostname or "the endpoint"
    where = f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    cause = error.__cause__
    if isinstance(error, TimeoutError):  # the whole-attempt deadline
        within = f" (--timeout {timeout:g} s)" if timeout else ""
        return Answer(
            "transient", error=f"no complete answer within the timeout{within}", ambiguous=True
        )
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
    if _never_sent(error):
        refused = isinstance(getattr(cause, "os_error", None), ConnectionRefusedError)
        if refused or isinstance(error.__context__, ConnectionRefusedError):
            return Answer("transient", error=f"connection refused by {where}")
        return Answer("transient", error=f"cannot connect to {where} ({_first_line(error)})")
    return Answer("transient", error=_describe_failure(error), ambiguous=True)


def _os_reason(error: aiohttp.ClientConnectorError) -> str:
    os_error = error.os_error
    return str(getattr(os_error, "strerror", None) or os_error or error)


def _never_sent(error: BaseException) -> bool:
    cause = error.__cause__
    if cause is not None:
        # The aiohttp transport maps every dropped connection to ConnectTimeout: the cause tells.
        return isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    return isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _describe_failure(error: BaseException) -> str:
    cause = error.__cause__
    if isinstance(cause, aiohttp.ServerDisconnectedError) or isinstance(
        error, httpx.RemoteProtocolError
    ):
        return "connection dropped without an answer"
    if isinstance(error, httpx.TimeoutException):
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
        client: httpx.AsyncClient,
        settings: PostSettings,
        *,
        ledger: Ledger | None = None,
        on_outcome: Callable[[Outcome], None] = lambda outcome: None,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.ledger = ledger
        self.on_outcome = on_outcome
        self.stopped = StopReason()
        self.journal_error: JournalError | None = None
        self._rng = rng or random.Random()
        self._limiter = RateLimiter(settings.rate)
        self._url = httpx.URL(settings.endpoint)  # parsed once, not per request
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
        outcomes: dict[int, Outcome] = {}
        queue = iter(leads)

        async def worker() -> None:
            for lead in queue:
                outcome = await self._post(lead) if not self.stopped else self._not_sent(lead)
                outcomes[lead.row] = outcome
                self.on_outcome(outcome)

        workers = min(self.settings.concurrency, len(leads))
        await asyncio.gather(*(worker() for _ in range(workers)))
        return outcomes

    def _not_sent(self, lead: Lead) -> Outcome:
        return Outcome(lead.row, "failed", error=f"not sent: {self.stopped.text}")

    async def _pause(self, seconds: float) -> None:
        """Sleep, unless a stop comes first."""
        if seconds > 0 and not self._wake.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), seconds)

    async def _post(self, lead: Lead) -> Outcome:
        unanswered = False
        if self.ledger is not None:
            try:
                decision = self.ledger.before_send(lead)
            except JournalError as error:
                self._journal_failed(error)
                return self._not_sent(lead)
            if isinstance(decision, Outcome):
                return decision
            unanswered = decision
        if unanswered and self.settings.on_unanswered == "hold":
            outcome = _held(lead.row, "an earlier attempt went unanswered", attempts=0)
        else:
            outcome = await self._attempts(lead, unanswered)
        if self.ledger is not None and self.journal_error is None:
            try:
                self.ledger.answered(lead, outcome)
            except JournalError as error:
                self._journal_failed(error)
                outcome.warnings.append("not recorded in the journal: a re-run may send it again")
        return outcome

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
                self.ledger.attempting(lead)
            except JournalError as error:
                self._journal_failed(error)
                return Answer("transient", error="not sent: the journal cannot be written")
        if self.settings.log_payloads:
            log.debug("row %d attempt %d: sending %s", lead.row, attempt, body.decode())
        try:
            # The whole attempt, not each read: a server trickling bytes must not hold it.
            async with asyncio.timeout(self.settings.timeout):
                response = await self.client.post(self._url, content=body, headers=_JSON)
            answer = interpret(response)
        except (httpx.TransportError, TimeoutError) as error:
            answer = interpret_failure(error, self._url, timeout=self.settings.timeout)
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
                        f"{self._url} does not answer like Captorra ({self._foreign_in_a_row} "
                        f"answers in a row; the last: {answer.error.split(';')[0]}): "
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
