"""The posting stage against fake HTTP handlers: answers, retries, ambiguity, breaker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import ssl
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx
import pytest

from importer import posting
from importer.errors import EndpointError
from importer.posting import (
    RESENT_WARNING,
    Answer,
    Lead,
    Outcome,
    Poster,
    PostSettings,
    check_endpoint,
    interpret,
    make_client,
)

ENDPOINT = "https://captorra.test/api/captorraapi/create"
CREATED = {"success": True, "IntakeID": "0b7e2a4c-1111-4222-8333-944455556666"}

Handler = Callable[[httpx.Request], httpx.Response]


def leads(count: int) -> list[Lead]:
    return [
        Lead(row, {"First": f"F{row}", "Last": "L"}, f"key{row}") for row in range(2, 2 + count)
    ]


def post(
    handler: Handler | Callable[[httpx.Request], Any],
    lead_list: list[Lead],
    **settings: Any,
) -> tuple[dict[int, Outcome], Poster]:
    options = {"endpoint": ENDPOINT, "backoff_base": 0.001, "backoff_cap": 0.01, **settings}

    async def main() -> tuple[dict[int, Outcome], Poster]:
        transport = httpx.MockTransport(handler)
        async with make_client(PostSettings(**options), transport) as client:
            poster = Poster(client, PostSettings(**options), rng=random.Random(1))
            return await poster.post_all(lead_list), poster

    return asyncio.run(main())


def answers(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler giving these answers in turn (the last one repeats), and its requests."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = responses[min(len(seen), len(responses)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


# ---------------------------------------------------------------- answers


@pytest.mark.parametrize("key", ["IntakeID", "IntakeId", "intakeId", "intakeid"])
def test_success_reads_the_intake_id_whatever_its_case(key: str) -> None:
    answer = interpret(httpx.Response(200, json={"success": True, key: "abc-1"}))
    assert answer == Answer("posted", intake_id="abc-1")


@pytest.mark.parametrize(
    "error",
    [
        "JSON syntax error",
        "Invalid GUID format.",
        "Referrer/Type GUID does not exist.",
        "Please provide the CaptorraId",
        "Please provide First",
        "Please provide Last",
        "Please provide Referrer",
    ],
)
@pytest.mark.parametrize("status", [200, 400, 422])
def test_documented_errors_are_rejections_verbatim_whatever_the_status(
    error: str, status: int
) -> None:
    answer = interpret(httpx.Response(status, json={"success": False, "error": error}))
    assert answer == Answer("rejected", error=error)


def test_json_answer_wrapped_in_a_json_string_is_unwrapped() -> None:
    body = json.dumps(json.dumps(CREATED))
    assert interpret(httpx.Response(200, text=body)).kind == "posted"


@pytest.mark.parametrize(
    ("status", "body", "ambiguous", "excerpt"),
    [
        (
            502,
            "<html><body>Bad Gateway</body></html>",
            True,
            "'<html><body>Bad Gateway</body></html>'",
        ),
        (400, "", True, "(empty body)"),
        (500, "[1, 2]", True, "'[1, 2]'"),
    ],
)
def test_unreadable_answers_are_transient_with_status_and_excerpt(
    status: int, body: str, ambiguous: bool, excerpt: str
) -> None:
    answer = interpret(httpx.Response(status, text=body))
    assert answer.kind == "transient"
    assert answer.ambiguous is ambiguous
    assert answer.error == f"HTTP {status}: unexpected answer {excerpt}"


@pytest.mark.parametrize(
    ("status", "body", "excerpt"),
    [
        (429, "slow down", "Too Many Requests 'slow down'"),
        (503, "busy", "Service Unavailable 'busy'"),
        (
            503,
            '{"success": false, "error": "busy"}',
            'Service Unavailable \'{"success": false, "error": "busy"}\'',
        ),
        (
            429,
            '{"success": true, "IntakeID": "x"}',
            'Too Many Requests \'{"success": true, "IntakeID": "x"}\'',
        ),
    ],
)
def test_429_and_503_are_transient_and_unambiguous_whatever_their_body(
    status: int, body: str, excerpt: str
) -> None:
    answer = interpret(httpx.Response(status, text=body))
    assert answer == Answer("transient", error=f"HTTP {status}: {excerpt}")


def test_long_bodies_are_cut_in_the_error() -> None:
    answer = interpret(httpx.Response(502, text="x" * 5000))
    assert len(answer.error) < 200
    assert answer.error.endswith("...'")


@pytest.mark.parametrize(
    ("header", "seconds"), [("7", 7.0), ("0", 0.0), ("1.5", 1.5), ("soon", None)]
)
def test_retry_after_seconds_are_read(header: str, seconds: float | None) -> None:
    answer = interpret(httpx.Response(503, headers={"Retry-After": header}))
    assert answer.retry_after == seconds


def test_retry_after_http_date_is_read() -> None:
    answer = interpret(
        httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    )
    assert answer.retry_after == 0.0  # in the past: retry now


# ---------------------------------------------------------------- sending


def test_body_holds_the_payload_with_json_headers() -> None:
    handler, seen = answers(httpx.Response(200, json=CREATED))
    outcomes, _ = post(handler, [Lead(2, {"First": "José", "Last": "Ñúñez"}, "k")])
    assert outcomes[2].status == "posted"
    assert outcomes[2].intake_id == CREATED["IntakeID"]
    request = seen[0]
    assert request.method == "POST"
    assert str(request.url) == ENDPOINT
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert json.loads(request.content) == {"First": "José", "Last": "Ñúñez"}


def test_rejections_are_never_retried() -> None:
    handler, seen = answers(
        httpx.Response(400, json={"success": False, "error": "Please provide Last"})
    )
    outcomes, _ = post(handler, leads(1))
    assert (outcomes[2].status, outcomes[2].error, outcomes[2].attempts) == (
        "rejected",
        "Please provide Last",
        1,
    )
    assert len(seen) == 1


def test_unavailable_is_retried_without_a_duplicate_warning() -> None:
    busy = httpx.Response(503, headers={"Retry-After": "0"}, text="busy")
    handler, seen = answers(busy, busy, httpx.Response(200, json=CREATED))
    outcomes, _ = post(handler, leads(1))
    assert outcomes[2].status == "posted"
    assert outcomes[2].attempts == 3
    assert outcomes[2].warnings == []
    assert len(seen) == 3


@pytest.mark.parametrize(
    "first",
    [
        httpx.Response(500, text="<html>oops</html>"),
        httpx.Response(502, text="<html>gateway</html>"),
        httpx.Response(504, text="<html>timeout</html>"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
    ids=["500", "502", "504", "read-timeout", "dropped"],
)
def test_a_resend_after_an_unanswered_attempt_is_flagged(first: httpx.Response | Exception) -> None:
    handler, _ = answers(first, httpx.Response(200, json=CREATED))
    outcomes, _ = post(handler, leads(1))
    assert outcomes[2].status == "posted"
    assert outcomes[2].warnings == [RESENT_WARNING]


@pytest.mark.parametrize(
    "first",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("no route")],
    ids=["refused", "connect-timeout"],
)
def test_a_resend_after_a_request_that_never_left_is_not_flagged(first: Exception) -> None:
    handler, _ = answers(first, httpx.Response(200, json=CREATED))
    outcomes, _ = post(handler, leads(1))
    assert outcomes[2].status == "posted"
    assert outcomes[2].warnings == []


def test_retries_exhausted_fail_the_row_with_the_last_error() -> None:
    handler, seen = answers(httpx.Response(503, text="down"))
    outcomes, _ = post(handler, leads(1), retries=3)
    outcome = outcomes[2]
    assert outcome.status == "failed"
    assert outcome.error == "HTTP 503: Service Unavailable 'down'"
    assert outcome.attempts == 4
    assert outcome.unanswered is False
    assert len(seen) == 4


def test_unanswered_then_failed_says_captorra_may_hold_it() -> None:
    handler, _ = answers(httpx.ReadTimeout("timed out"), httpx.Response(503, text="down"))
    outcomes, _ = post(handler, leads(1), retries=1)
    outcome = outcomes[2]
    assert outcome.status == "failed"
    assert outcome.unanswered is True
    assert outcome.warnings == [RESENT_WARNING]


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait a Poster makes (backoff, Retry-After, rate limit), made instant."""
    delays: list[float] = []

    async def recording_pause(self: Poster, seconds: float) -> None:
        if seconds > 0:
            delays.append(seconds)

    monkeypatch.setattr(Poster, "_pause", recording_pause)
    return delays


def test_retry_after_is_honoured(pauses: list[float]) -> None:
    delays = pauses
    handler, _ = answers(
        httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json=CREATED)
    )
    outcomes, _ = post(handler, leads(1))
    assert outcomes[2].status == "posted"
    assert len(delays) == 1
    assert 7.0 <= delays[0] <= 7.1


def test_backoff_grows_exponentially_with_full_jitter(pauses: list[float]) -> None:
    delays = pauses
    handler, _ = answers(httpx.Response(503))
    post(handler, leads(1), retries=4, backoff_base=1.0, backoff_cap=100.0)
    assert len(delays) == 4
    for retry, delay in enumerate(delays, start=1):
        assert 0 <= delay <= 2**retry


def test_circuit_breaker_stops_sending_and_says_why() -> None:
    handler, seen = answers(httpx.Response(503, text="down"))
    outcomes, poster = post(handler, leads(10), concurrency=1, retries=2, breaker_after=5)
    assert len(seen) == 5
    last = "HTTP 503: Service Unavailable 'down'"
    assert poster.stopped.text == f"endpoint unavailable (5 failures in a row; last: {last})"
    assert poster.stopped.kind == "unavailable"
    statuses = [outcome.status for outcome in outcomes.values()]
    assert statuses == ["failed"] * 10
    not_sent = [o for o in outcomes.values() if o.attempts == 0]
    assert len(not_sent) == 8
    assert {o.error for o in not_sent} == {f"not sent: {poster.stopped.text}"}


def test_an_answer_resets_the_breaker() -> None:
    count = 0

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        return httpx.Response(503) if count % 3 else httpx.Response(200, json=CREATED)

    outcomes, poster = post(flaky, leads(12), concurrency=1, retries=5, breaker_after=3)
    assert not poster.stopped
    assert {o.status for o in outcomes.values()} == {"posted"}


def test_requests_really_run_in_parallel_up_to_the_concurrency() -> None:
    in_flight = 0
    peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return httpx.Response(200, json=CREATED)

    outcomes, _ = post(slow, leads(40), concurrency=6)
    assert len(outcomes) == 40
    assert peak == 6


def test_stop_lets_requests_in_flight_finish_and_starts_no_more() -> None:
    started: list[int] = []
    poster_box: list[Poster] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        started.append(1)
        if len(started) == 3:
            poster_box[0].stop("interrupted (Ctrl-C); re-run to send")
        await asyncio.sleep(0.01)
        return httpx.Response(200, json=CREATED)

    async def main() -> dict[int, Outcome]:
        settings = PostSettings(endpoint=ENDPOINT, concurrency=3)
        async with make_client(settings, httpx.MockTransport(handler)) as client:
            poster = Poster(client, settings)
            poster_box.append(poster)
            return await poster.post_all(leads(10))

    outcomes = asyncio.run(main())
    assert len(started) == 3
    assert [o.status for o in outcomes.values()].count("posted") == 3
    skipped = [o for o in outcomes.values() if o.status == "failed"]
    assert len(skipped) == 7
    assert {o.error for o in skipped} == {"not sent: interrupted (Ctrl-C); re-run to send"}


def test_rate_limiter_spaces_request_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    delays: list[float] = []
    monkeypatch.setattr(posting.time, "monotonic", lambda: clock[0])
    limiter = posting.RateLimiter(4.0)
    for _ in range(5):
        delay = limiter.delay()
        if delay:
            delays.append(delay)
        clock[0] += delay
    assert delays == pytest.approx([0.25, 0.25, 0.25, 0.25])


# ---------------------------------------------------------------- endpoint and TLS


@pytest.mark.parametrize(
    "url",
    [
        "https://captorra.test/api/captorraapi/create",
        "http://127.0.0.1:8765/api/captorraapi/create",
        "http://127.9.9.9/x",
        "http://localhost:1234/x",
        "http://[::1]:8765/x",
        "http://sandbox.localhost/x",
    ],
)
def test_https_or_loopback_endpoints_are_accepted(url: str) -> None:
    assert check_endpoint(url) == url


@pytest.mark.parametrize(
    "host", ["captorra.test", "10.0.0.5", "192.168.1.10", "localhost.evil.test", "[2001:db8::1]"]
)
def test_plain_http_to_another_machine_is_refused(host: str) -> None:
    with pytest.raises(EndpointError) as raised:
        check_endpoint(f"http://{host}/api")
    assert str(raised.value) == (
        f"endpoint http://{host}/api uses plain http to another machine; leads are personal "
        "data, so use https (plain http is allowed only to 127.0.0.1/localhost)"
    )


@pytest.mark.parametrize("url", ["ftp://captorra.test/x", "captorra.test/x", "https://"])
def test_non_http_endpoints_are_refused(url: str) -> None:
    with pytest.raises(EndpointError, match="is not an http"):
        check_endpoint(url)


def test_the_real_transport_verifies_tls() -> None:
    async def main() -> None:
        async with make_client(PostSettings(endpoint=ENDPOINT)) as client:
            assert isinstance(client, posting.AiohttpClient)
            context = client.ssl_context
            assert context.verify_mode == ssl.CERT_REQUIRED
            assert context.check_hostname is True

    asyncio.run(main())


# ---------------------------------------------------------------- answers real deployments give

GUID = "0b7e2a4c-1111-4222-8333-944455556666"


@pytest.mark.parametrize(
    "body",
    [
        {"success": True, "IntakeID": GUID},
        {"success": "true", "IntakeID": GUID},
        {"success": "TRUE", "IntakeID": GUID},
        {"Success": True, "IntakeId": GUID},
        {"SUCCESS": "Yes", "intakeID": GUID},
        {"success": 1, "intake_id": GUID},
        {"success": "1", "Intake-ID": GUID},
        {"success": True, "Intake ID": GUID},
        {"d": {"success": True, "Intake_ID": GUID}},
        {"data": {"success": True}, "IntakeID": GUID},
        {"Result": {"Success": "yes", "IntakeID": GUID}},
        {"d": json.dumps({"success": True, "IntakeID": GUID})},
    ],
    ids=repr,
)
def test_success_is_read_in_every_shape(body: dict[str, Any]) -> None:
    answer = interpret(httpx.Response(200, json=body))
    assert answer == Answer("posted", intake_id=GUID)


def test_success_inside_a_json_string_inside_a_wrapper_is_read() -> None:
    text = json.dumps(json.dumps({"d": {"success": True, "IntakeID": GUID}}))
    assert interpret(httpx.Response(200, text=text)) == Answer("posted", intake_id=GUID)


@pytest.mark.parametrize(
    "text",
    [
        f'{{"success": true, "IntakeID: "{GUID}"}}',  # as Captorra's page prints it
        f'{{"success":true,"IntakeID: "{GUID}"}}',
        f'{{"Success": "true", "intake_id: "{GUID}"}}',
    ],
)
def test_the_broken_quote_of_captorras_page_still_gives_the_intake_id(text: str) -> None:
    assert interpret(httpx.Response(200, text=text)) == Answer("posted", intake_id=GUID)


def test_a_page_that_merely_mentions_success_is_not_a_success() -> None:
    page = '<html><script>var state = {"success": true};</script></html>'
    assert interpret(httpx.Response(200, text=page)).kind == "unconfirmed"


@pytest.mark.parametrize(
    "body",
    [{"success": True}, {"success": True, "IntakeID": ""}, {"d": {"success": "true"}}],
    ids=repr,
)
def test_success_without_an_intake_id_is_posted_with_a_warning(body: dict[str, Any]) -> None:
    answer = interpret(httpx.Response(200, json=body))
    assert answer == Answer("posted", warning=posting.NO_INTAKE_ID_WARNING)


@pytest.mark.parametrize(
    "body",
    [
        {"success": False, "error": "Please provide Last"},
        {"success": "false", "error": "Please provide Last"},
        {"Success": 0, "Error": "Please provide Last"},
        {"success": "No", "message": "Please provide Last"},
        {"d": {"success": False, "error": "Please provide Last"}},
    ],
    ids=repr,
)
def test_rejections_are_read_in_every_shape(body: dict[str, Any]) -> None:
    answer = interpret(httpx.Response(400, json=body))
    assert answer == Answer("rejected", error="Please provide Last")


def test_captorras_error_text_is_kept_whole_up_to_2000_characters() -> None:
    text = "Referrer/Type GUID does not exist. " + "x" * 265
    assert len(text) == 300
    assert interpret(httpx.Response(200, json={"success": False, "error": text})).error == text
    long = "y" * 2500
    cut = interpret(httpx.Response(200, json={"success": False, "error": long})).error
    assert cut == "y" * 2000 + "..."


@pytest.mark.parametrize(
    ("body", "excerpt"),
    [
        ("<html><body>Thanks!</body></html>", "'<html><body>Thanks!</body></html>'"),
        ("", "(empty body)"),
        ('{"status": "ok"}', '\'{"status": "ok"}\''),
        ('{"success": "maybe"}', '\'{"success": "maybe"}\''),
        ("[1, 2]", "'[1, 2]'"),
    ],
)
@pytest.mark.parametrize("status", [200, 201, 202])
def test_a_2xx_that_is_neither_success_nor_rejection_is_unconfirmed(
    status: int, body: str, excerpt: str
) -> None:
    answer = interpret(httpx.Response(status, text=body))
    assert answer.kind == "unconfirmed"
    assert answer.error.startswith(f"HTTP {status}: not an answer Captorra gives {excerpt}; ")
    assert "check Captorra" in answer.error


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (301, "301 Moved Permanently, redirecting to https://login.example.test/"),
        (302, "302 Found, redirecting to https://login.example.test/"),
        (307, "307 Temporary Redirect, redirecting to https://login.example.test/"),
        (401, "401 Unauthorized: the server refuses this client"),
        (403, "403 Forbidden: the server refuses this client"),
        (404, "404 Not Found: is the endpoint URL right? (--endpoint / CAPTORRA_ENDPOINT)"),
        (405, "405 Method Not Allowed: that URL does not take POSTs"),
        (410, "410 Gone: is the endpoint URL right?"),
    ],
)
def test_answers_that_mean_a_wrong_setup_are_configuration_problems(
    status: int, words: str
) -> None:
    response = httpx.Response(
        status, headers={"Location": "https://login.example.test/"}, text="<html>no</html>"
    )
    answer = interpret(response, ENDPOINT)
    assert answer.kind == "misconfigured"
    assert answer.error.startswith(f"{ENDPOINT} answered {words}")
    assert answer.error.endswith("nothing was created")


def test_a_captorra_shaped_body_wins_over_a_4xx_status() -> None:
    body = {"success": False, "error": "Referrer/Type GUID does not exist."}
    assert interpret(httpx.Response(404, json=body)).kind == "rejected"


class RecordingLedger:
    """A ledger that remembers its steps in order."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, tuple[int, ...]]] = []

    def claim(self, batch: Sequence[Lead]) -> list[Outcome | bool]:
        self.steps.append(("claim", tuple(lead.row for lead in batch)))
        return [False] * len(batch)

    def attempting(self, lead: Lead) -> None:
        self.steps.append(("attempting", (lead.row,)))

    def answered(self, lead: Lead, outcome: Outcome) -> None:
        self.steps.append(("answered", (lead.row,)))

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        yield


def test_leads_are_claimed_in_batches_and_answers_reported_once_recorded() -> None:
    ledger = RecordingLedger()
    handler, seen = answers(httpx.Response(200, json=CREATED))
    lead_list = leads(150)

    reported_unrecorded: list[int] = []

    def reported(outcome: Outcome) -> None:
        if ("answered", (outcome.row,)) not in ledger.steps:
            reported_unrecorded.append(outcome.row)

    async def main() -> dict[int, Outcome]:
        settings = PostSettings(endpoint=ENDPOINT, concurrency=4)
        async with make_client(settings, httpx.MockTransport(handler)) as client:
            poster = Poster(client, settings, ledger=ledger, on_outcome=reported)
            return await poster.post_all(lead_list)

    outcomes = asyncio.run(main())

    assert {o.status for o in outcomes.values()} == {"posted"}
    assert reported_unrecorded == []  # an outcome is reported once the ledger has it
    claims = [rows for step, rows in ledger.steps if step == "claim"]
    assert [len(rows) for rows in claims] == [64, 64, 22]  # CLAIM_LEADS at a time
    assert [row for rows in claims for row in rows] == [lead.row for lead in lead_list]
    position = {step: index for index, step in enumerate(ledger.steps)}
    for rows in claims:
        claimed_at = position[("claim", rows)]
        assert all(position[("attempting", (row,))] > claimed_at for row in rows)
    assert len(seen) == 150


# ---------------------------------------------------------------- failures without an answer


def _mapped(cause: Exception) -> httpx.TransportError:
    """The httpx error the aiohttp transport raises for `cause`, chained as it chains it."""
    error = httpx.ConnectError(str(cause))
    error.__cause__ = cause
    return error


def _connection_key() -> Any:
    from aiohttp.client_reqrep import ConnectionKey

    return ConnectionKey("captorra.test", 443, True, True, None, None, None)


def test_a_certificate_failure_names_the_host_and_the_reason() -> None:
    import aiohttp

    failure = ssl.SSLCertVerificationError(1, "certificate verify failed")
    failure.verify_message = "unable to get local issuer certificate"
    cause = aiohttp.ClientConnectorCertificateError(_connection_key(), failure)
    answer = posting.interpret_failure(_mapped(cause), ENDPOINT)
    assert answer.kind == "misconfigured"
    assert answer.error.startswith(
        "the TLS certificate of captorra.test:443 is not trusted: "
        "unable to get local issuer certificate; "
    )
    assert "--ca-bundle" in answer.error


def test_a_name_that_does_not_resolve_is_a_configuration_problem() -> None:
    import aiohttp

    os_error = OSError(-2, "Name or service not known")
    cause = aiohttp.ClientConnectorDNSError(_connection_key(), os_error)
    answer = posting.interpret_failure(_mapped(cause), ENDPOINT)
    assert answer.kind == "misconfigured"
    assert answer.error.startswith(
        "the name captorra.test does not resolve (Name or service not known)"
    )


def test_a_refused_connection_stays_transient_and_names_host_and_port() -> None:
    import aiohttp

    cause = aiohttp.ClientConnectorError(_connection_key(), ConnectionRefusedError(111, "refused"))
    answer = posting.interpret_failure(_mapped(cause), ENDPOINT)
    assert answer == Answer("transient", error="connection refused by captorra.test:443")


def test_aiohttp_failures_read_directly_as_through_an_httpx_transport() -> None:
    import aiohttp

    key = _connection_key()
    refused = aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))
    dns = aiohttp.ClientConnectorDNSError(key, OSError(-2, "Name or service not known"))
    for cause in (refused, dns):
        assert posting.interpret_failure(cause, ENDPOINT) == posting.interpret_failure(
            _mapped(cause), ENDPOINT
        )
    dropped = posting.interpret_failure(aiohttp.ServerDisconnectedError(), ENDPOINT)
    assert dropped == Answer(
        "transient", error="connection dropped without an answer", ambiguous=True
    )
    reset = posting.interpret_failure(
        aiohttp.ClientOSError(104, "Connection reset by peer"), ENDPOINT
    )
    assert reset.ambiguous
    assert reset.error.startswith("connection failed (")
    never_connected = posting.interpret_failure(aiohttp.ConnectionTimeoutError(), ENDPOINT)
    assert never_connected.kind == "transient"
    assert not never_connected.ambiguous


@pytest.mark.parametrize(
    ("host", "no_proxy", "proxied"),
    [
        ("api.example.com", "example.com", False),
        ("api.example.com", ".example.com", False),
        ("example.com", "example.com", False),
        ("notexample.com", "example.com", True),  # a suffix is not a parent domain
        ("captorra.test", "other.test, *", False),
        ("captorra.test", "", True),
    ],
)
def test_no_proxy_names_hosts_and_their_subdomains(host: str, no_proxy: str, proxied: bool) -> None:
    environ = {"https_proxy": "proxy.corp:3128", "NO_PROXY": no_proxy}
    chosen = posting.environment_proxy(f"https://{host}/api", environ)
    assert chosen == ("http://proxy.corp:3128" if proxied else None)


def test_a_socks_proxy_in_the_environment_is_refused_with_what_to_do() -> None:
    with pytest.raises(posting.UsageError, match="is not an http:// proxy URL"):
        posting.environment_proxy(ENDPOINT, {"ALL_PROXY": "socks5://127.0.0.1:1080"})


# ---------------------------------------------------------------- configuration stops


@pytest.mark.parametrize("status", [302, 401, 403, 404, 405, 410])
def test_a_configuration_answer_stops_at_once_without_duplicate_warnings(status: int) -> None:
    handler, seen = answers(httpx.Response(status, headers={"Location": "/login"}))
    outcomes, poster = post(handler, leads(30), concurrency=1)
    assert len(seen) == 1
    assert poster.stopped.kind == "endpoint"
    assert poster.stopped.configuration
    assert {o.status for o in outcomes.values()} == {"failed"}
    assert all(o.warnings == [] and not o.unanswered for o in outcomes.values())
    assert outcomes[2].error == poster.stopped.text
    assert {o.error for o in list(outcomes.values())[1:]} == {f"not sent: {poster.stopped.text}"}


def test_five_answers_that_are_not_captorras_at_the_start_stop_the_run() -> None:
    handler, seen = answers(httpx.Response(200, text="<html>login</html>"))
    outcomes, poster = post(handler, leads(30), concurrency=1)
    assert len(seen) == posting.FOREIGN_STOP_AFTER
    assert poster.stopped.kind == "endpoint"
    assert "does not answer like Captorra" in poster.stopped.text
    statuses = [o.status for o in outcomes.values()]
    assert statuses[:5] == ["unconfirmed"] * 5
    assert set(statuses[5:]) == {"failed"}


def test_after_a_captorra_answer_a_stray_2xx_is_unconfirmed_and_does_not_stop() -> None:
    handler, seen = answers(
        httpx.Response(200, json=CREATED),
        *[httpx.Response(200, text="")] * 8,
        httpx.Response(200, json=CREATED),
    )
    outcomes, poster = post(handler, leads(10), concurrency=1)
    assert not poster.stopped
    assert len(seen) == 10  # each lead once: an unconfirmed answer is never retried
    assert [o.status for o in outcomes.values()].count("unconfirmed") == 8


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        ("Referrer/Type GUID does not exist.", "the Referrer GUID (CAPTORRA_REFERRER) or the Type"),
        ("Please provide the CaptorraId", "the CaptorraId of the mapping (CAPTORRA_ID)"),
        ("Please provide Last", "the Last field of the mapping"),
    ],
)
def test_the_same_rejection_over_and_over_stops_and_names_the_likely_field(
    error: str, hint: str
) -> None:
    handler, seen = answers(httpx.Response(200, json={"success": False, "error": error}))
    outcomes, poster = post(handler, leads(50), concurrency=1, stop_after_same_rejection=10)
    assert len(seen) == 10
    assert poster.stopped.kind == "mapping"
    assert poster.stopped.text.startswith(f"every lead was refused with {error!r} (10 in a row")
    assert hint in poster.stopped.text
    not_sent = [o for o in outcomes.values() if o.status == "failed"]
    assert len(not_sent) == 40
    assert not_sent[0].error == f"not sent: {poster.stopped.text}"


def test_the_same_rejection_does_not_stop_once_a_lead_was_created_or_when_off() -> None:
    refused = httpx.Response(200, json={"success": False, "error": "Please provide Last"})
    handler, seen = answers(httpx.Response(200, json=CREATED), refused)
    _, poster = post(handler, leads(30), concurrency=1, stop_after_same_rejection=5)
    assert not poster.stopped
    assert len(seen) == 30
    handler, seen = answers(refused)
    _, poster = post(handler, leads(30), concurrency=1, stop_after_same_rejection=0)
    assert not poster.stopped
    assert len(seen) == 30


def test_a_rejection_about_the_type_guid_carries_the_type_sent() -> None:
    handler, _ = answers(
        httpx.Response(200, json={"success": False, "error": "Referrer/Type GUID does not exist."})
    )
    lead = Lead(2, {"First": "A", "Last": "B", "Type": GUID}, "k")
    outcomes, _ = post(handler, [lead])
    assert outcomes[2].type_guid == GUID


def test_a_new_file_forgets_the_last_files_mapping_stop_but_not_an_endpoint_stop() -> None:
    async def main() -> None:
        settings = PostSettings(endpoint=ENDPOINT)
        async with make_client(settings, httpx.MockTransport(lambda r: httpx.Response(200))) as c:
            poster = Poster(c, settings)
            poster.stop("every lead was refused", "mapping")
            poster.start_file()
            assert not poster.stopped
            poster.stop("answered 404", "endpoint")
            poster.start_file()
            assert poster.stopped.kind == "endpoint"

    asyncio.run(main())


# ---------------------------------------------------------------- waits and policies


def test_a_retry_after_beyond_the_maximum_stops_and_says_how_long(pauses: list[float]) -> None:
    handler, seen = answers(httpx.Response(503, headers={"Retry-After": "3600"}))
    outcomes, poster = post(handler, leads(5), concurrency=1, max_retry_after=300)
    assert len(seen) == 1
    assert pauses == []
    assert poster.stopped.kind == "unavailable"
    assert poster.stopped.text.startswith("the server asked to wait 3600 s before retrying")
    assert {o.status for o in outcomes.values()} == {"failed"}


def test_a_stop_ends_a_long_wait_at_once() -> None:
    async def main() -> tuple[dict[int, Outcome], float]:
        settings = PostSettings(endpoint=ENDPOINT, concurrency=1, max_retry_after=10_000)
        transport = httpx.MockTransport(
            lambda r: httpx.Response(429, headers={"Retry-After": "5000"})
        )
        async with make_client(settings, transport) as client:
            poster = Poster(client, settings)
            task = asyncio.create_task(poster.post_all(leads(3)))
            await asyncio.sleep(0.2)
            started = asyncio.get_running_loop().time()
            poster.stop("interrupted (Ctrl-C); re-run to send")
            outcomes = await asyncio.wait_for(task, 60)
            return outcomes, asyncio.get_running_loop().time() - started

    outcomes, _ = asyncio.run(main())  # without the stop it would wait 5,000 s: wait_for fails
    assert outcomes[2].error.endswith("then stopped: interrupted (Ctrl-C); re-run to send")
    assert {o.status for o in outcomes.values()} == {"failed"}


def test_hold_makes_an_unanswered_lead_unconfirmed_instead_of_sending_it_again() -> None:
    handler, seen = answers(httpx.ReadTimeout("timed out"), httpx.Response(200, json=CREATED))
    outcomes, _ = post(handler, leads(1), on_unanswered="hold")
    assert len(seen) == 1
    assert outcomes[2].status == "unconfirmed"
    assert outcomes[2].unanswered is True
    assert "--on-unanswered hold" in outcomes[2].error


def test_hold_still_retries_what_cannot_have_been_created() -> None:
    handler, seen = answers(httpx.Response(503), httpx.Response(200, json=CREATED))
    outcomes, _ = post(handler, leads(1), on_unanswered="hold")
    assert len(seen) == 2
    assert outcomes[2].status == "posted"


def test_the_body_is_ascii_json_as_captorras_own_client_sends_it() -> None:
    handler, seen = answers(httpx.Response(200, json=CREATED))
    post(handler, [Lead(2, {"First": "José", "Last": "Nguyễn 阮"}, "k")])
    body = seen[0].content
    assert body.isascii()
    assert b"Jos\\u00e9" in body
    assert json.loads(body) == {"First": "José", "Last": "Nguyễn 阮"}
    assert seen[0].headers["User-Agent"] == posting.USER_AGENT
    assert posting.USER_AGENT.startswith("captorra-importer/")
