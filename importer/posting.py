"""Posting leads to Captorra: one JSON POST per lead, many in flight at once.

Guarantees:
- an answer is judged by its body, not its status code: `success: true` with an
  IntakeID is `posted`, `success: false` is `rejected` (never retried, Error is
  Captorra's text verbatim), anything else is a transient failure;
- transient failures (connection errors, timeouts, 429, 5xx, unreadable
  answers) are retried with exponential backoff and full jitter, honouring
  `Retry-After`, up to `retries` times, then the row is `failed`;
- an attempt that may have reached Captorra without an answer (a read timeout,
  a connection dropped after sending, 500/502/504) is *ambiguous*: a lead sent
  again after one is flagged in Warnings, because Captorra has no idempotency
  key and may now hold it twice. A lead is never dropped to avoid that risk;
- after `breaker_after` consecutive transient failures the endpoint is taken
  as down: nothing more is sent and the rows not sent say so;
- a stop request (Ctrl-C) lets requests in flight finish and starts no more.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from importer.errors import EndpointError, JournalError

log = logging.getLogger("captorra_importer")

Status = Literal["posted", "rejected", "failed", "already_posted", "duplicate"]
RESENT_WARNING = "sent again after an unanswered attempt; check Captorra for a duplicate"
_JSON = {"Content-Type": "application/json"}
MAX_RETRY_AFTER = 120.0  # a server asking for longer is treated as down for this run
EXCERPT_CHARS = 120


@dataclass(frozen=True)
class PostSettings:
    endpoint: str
    concurrency: int = 8
    rate: float | None = None  # requests per second, None = no cap
    timeout: float = 30.0
    retries: int = 5
    breaker_after: int = 20
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    log_payloads: bool = False


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


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always this machine
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def make_client(
    settings: PostSettings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """An HTTP client for the endpoint; TLS verification is always on.

    httpx's own async transport serialises much of its work under load (httpx
    issue #3215); the aiohttp transport keeps the same API and really runs
    `concurrency` requests in parallel.
    """
    limits = httpx.Limits(
        max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
    )
    return httpx.AsyncClient(
        transport=transport or AiohttpTransport(verify=True, limits=limits),
        timeout=httpx.Timeout(settings.timeout),
        headers={"Accept": "application/json"},
        follow_redirects=False,
    )


# ---------------------------------------------------------------- answers


@dataclass(frozen=True)
class Answer:
    """What one attempt came to."""

    kind: Literal["posted", "rejected", "transient"]
    intake_id: str = ""
    error: str = ""
    ambiguous: bool = False  # the lead may have been created despite no good answer
    retry_after: float | None = None


def interpret(response: httpx.Response) -> Answer:
    """Judge an HTTP answer by its body; see the module docstring."""
    body = _json_object(response.content)
    if body is not None and isinstance(body.get("success"), bool):
        if body["success"]:
            intake_id = next(
                (
                    str(value)
                    for key, value in body.items()
                    if key.casefold() == "intakeid" and value
                ),
                "",
            )
            if intake_id:
                return Answer("posted", intake_id=intake_id)
        else:
            return Answer("rejected", error=str(body.get("error") or "rejected without a reason"))
    status = response.status_code
    # 503 and 429 say the request was not processed; anything else may have been.
    return Answer(
        "transient",
        error=f"HTTP {status}: unexpected answer {_excerpt(response.content)}",
        ambiguous=status not in {429, 503},
        retry_after=_retry_after(response.headers.get("Retry-After")),
    )


def _json_object(content: bytes) -> dict[str, Any] | None:
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


def interpret_failure(error: httpx.TransportError) -> Answer:
    """A request that got no answer: ambiguous unless it never left this machine."""
    return Answer("transient", error=_describe_failure(error), ambiguous=not _never_sent(error))


def _never_sent(error: BaseException) -> bool:
    cause = error.__cause__
    if cause is not None:
        # The aiohttp transport maps every dropped connection to ConnectTimeout: the cause tells.
        return isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    return isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _describe_failure(error: httpx.TransportError) -> str:
    cause = error.__cause__
    if isinstance(cause, aiohttp.ServerDisconnectedError) or isinstance(
        error, httpx.RemoteProtocolError
    ):
        return "connection dropped without an answer"
    if isinstance(error, httpx.TimeoutException) and not _never_sent(error):
        return "no answer within the timeout"
    if _never_sent(error):
        return f"cannot connect ({_first_line(error)})"
    return f"connection failed ({_first_line(error)})"


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:EXCERPT_CHARS]


# ---------------------------------------------------------------- sending


class RateLimiter:
    """Spaces request starts at least 1/rate seconds apart."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self._interval:
            return
        now = time.monotonic()
        start = max(now, self._next)
        self._next = start + self._interval
        if start > now:
            await asyncio.sleep(start - now)


@dataclass
class StopReason:
    """Why sending stopped early, if it did: shared by every worker."""

    text: str = ""

    def __bool__(self) -> bool:
        return bool(self.text)


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
        self._failures_in_a_row = 0

    def stop(self, reason: str) -> None:
        """Start no more requests; requests in flight finish."""
        if not self.stopped:
            self.stopped.text = reason

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
        self.stop("the journal cannot be written")

    async def _attempts(self, lead: Lead, unanswered: bool) -> Outcome:
        """Send until an answer, a stop, or the retries run out.

        `unanswered` says an earlier attempt (maybe in an earlier run) may have
        created the lead: every send from then on is a possible duplicate.
        """
        body = json.dumps(lead.payload, ensure_ascii=False).encode()
        answer = Answer("transient")
        resent = False
        attempt = 0
        while attempt <= self.settings.retries and not (attempt and self.stopped):
            if attempt:
                await self._back_off(attempt, answer.retry_after)
                if self.stopped:
                    break
            attempt += 1
            resent = resent or unanswered
            answer = await self._send_once(lead, body, attempt)
            unanswered = unanswered or answer.ambiguous
            if answer.kind != "transient":
                status: Status = "posted" if answer.kind == "posted" else "rejected"
                return Outcome(
                    lead.row,
                    status,
                    answer.intake_id,
                    answer.error,
                    [RESENT_WARNING] if resent else [],
                    attempt,
                )
        error = answer.error
        if self.stopped:
            error = f"{error}; then stopped: {self.stopped.text}"
        warnings = [RESENT_WARNING] if resent else []
        if unanswered and not resent:
            warnings = ["an attempt went unanswered; check Captorra before sending it by hand"]
        return Outcome(
            lead.row,
            "failed",
            error=error,
            warnings=warnings,
            attempts=attempt,
            unanswered=unanswered,
        )

    async def _send_once(self, lead: Lead, body: bytes, attempt: int) -> Answer:
        await self._limiter.wait()
        if self.ledger is not None:
            try:
                self.ledger.attempting(lead)
            except JournalError as error:
                self._journal_failed(error)
                return Answer("transient", error="not sent: the journal cannot be written")
        if self.settings.log_payloads:
            log.debug("row %d attempt %d: sending %s", lead.row, attempt, body.decode())
        try:
            response = await self.client.post(self._url, content=body, headers=_JSON)
            answer = interpret(response)
        except httpx.TransportError as error:
            answer = interpret_failure(error)
        if answer.kind == "transient":
            log.info("row %d attempt %d: %s", lead.row, attempt, answer.error)
            self._failures_in_a_row += 1
            if self._failures_in_a_row >= self.settings.breaker_after:
                self.stop(f"endpoint unavailable ({self._failures_in_a_row} failures in a row)")
        else:
            self._failures_in_a_row = 0
        return answer

    async def _back_off(self, retry: int, retry_after: float | None) -> None:
        delay = self._rng.uniform(
            0, min(self.settings.backoff_cap, self.settings.backoff_base * 2**retry)
        )
        if retry_after is not None:
            delay = min(retry_after, MAX_RETRY_AFTER) + self._rng.uniform(0, 0.1)
        await asyncio.sleep(delay)
