"""The sandbox answers as CAPTORRA.md documents, in process and over loopback HTTP.

Nothing here contacts any host but 127.0.0.1: in-process requests never leave
the process, and servers listen on a free loopback port.
"""

from __future__ import annotations

import asyncio
import json
import math
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from importer import sandbox as sandbox_module
from importer.captorra import ApiError
from importer.errors import UsageError
from importer.pipeline import ImportJob, import_files
from importer.posting import (
    SEND_FAILURES,
    Answer,
    PostSettings,
    interpret,
    interpret_failure,
    make_client,
)
from importer.sandbox import (
    SANDBOX_PATH,
    AnswerStyle,
    Fault,
    Sandbox,
    SandboxConfig,
    running_server,
)
from tests.leads import MAPPING, lead_rows, read_sheet, write_csv

REFERRER = "0b8f6c1e-3c2d-4e5f-8a9b-0c1d2e3f4a5b"
TYPE = "9f8e7d6c-5b4a-4321-9876-fedcba987654"
UNKNOWN = "11111111-2222-3333-4444-555555555555"
# Only ever handed to the in-process transport, which answers without dialling.
IN_PROCESS_URL = f"http://127.0.0.1{SANDBOX_PATH}"


def lead(*, without: tuple[str, ...] = (), **changes: Any) -> dict[str, Any]:
    """A valid lead, with fields changed or left out."""
    payload: dict[str, Any] = {
        "CaptorraId": "123456",
        "First": "Ada",
        "Last": "Lovelace",
        "Referrer": REFERRER,
        **changes,
    }
    return {name: value for name, value in payload.items() if name not in without}


def faulty(fault: Fault, **options: Any) -> SandboxConfig:
    """A sandbox config where every request gets `fault`."""
    return SandboxConfig(fault_rate=1.0, faults=(fault,), **options)


def send_all(
    sandbox: Sandbox,
    requests: list[dict[str, Any]],
    *,
    timeout: float = 5.0,
) -> list[httpx.Response]:
    """Send requests (httpx.AsyncClient.request keyword arguments) one after another."""

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=sandbox.transport(), timeout=timeout) as client:
            return [
                await client.request(**{"method": "POST", "url": IN_PROCESS_URL, **request})
                for request in requests
            ]

    return asyncio.run(run())


def post(sandbox: Sandbox, *, timeout: float = 5.0, **request: Any) -> httpx.Response:
    return send_all(sandbox, [request], timeout=timeout)[0]


def rejected_body(error: str) -> str:
    return f'{{"success": false, "error": "{error}"}}'


def read_record(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def record(tmp_path: Path) -> Path:
    return tmp_path / "intakes.jsonl"


# --- Documented answers, in process ---


def test_a_valid_lead_creates_an_intake() -> None:
    sandbox = Sandbox()
    payload = lead(Email="ada@example.org", Type=TYPE)

    response = post(sandbox, json=payload)

    intake_id = response.json()["IntakeID"]
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.text == f'{{"success": true, "IntakeID": "{intake_id}"}}'
    assert uuid.UUID(intake_id).version == 4
    assert sandbox.intakes == [(intake_id, payload)]


def test_each_intake_gets_a_fresh_id_and_the_same_lead_twice_is_two_intakes() -> None:
    sandbox = Sandbox()

    responses = send_all(sandbox, [{"json": lead()}, {"json": lead()}])

    ids = [response.json()["IntakeID"] for response in responses]
    assert len(set(ids)) == 2
    assert [intake_id for intake_id, _ in sandbox.intakes] == ids


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(lead(Referrer=REFERRER.upper(), Type=TYPE.upper()), id="upper-case GUIDs"),
        pytest.param(lead(Type=""), id="blank Type is absent"),
        pytest.param(lead(Type=None), id="null Type is absent"),
        pytest.param(lead(CaptorraId=123456), id="numeric CaptorraId"),
    ],
)
def test_leads_captorra_accepts(payload: dict[str, Any]) -> None:
    assert post(Sandbox(), json=payload).status_code == 200


@pytest.mark.parametrize(
    ("content", "error"),
    [
        pytest.param(b"", ApiError.JSON_SYNTAX, id="empty body"),
        pytest.param(b'{"CaptorraId": "1"', ApiError.JSON_SYNTAX, id="truncated"),
        pytest.param(b"[1, 2]", ApiError.JSON_SYNTAX, id="array"),
        pytest.param(b"null", ApiError.JSON_SYNTAX, id="null"),
        pytest.param(b'"{\\"First\\": \\"Ada\\"}"', ApiError.JSON_SYNTAX, id="JSON in a string"),
        pytest.param(b'{"CaptorraId": NaN}', ApiError.JSON_SYNTAX, id="NaN"),
        pytest.param(b'{"First": "\xff"}', ApiError.JSON_SYNTAX, id="not UTF-8"),
        pytest.param(b"{}", ApiError.MISSING_CAPTORRA_ID, id="empty object"),
    ],
)
def test_bodies_that_are_not_a_json_object(content: bytes, error: str) -> None:
    sandbox = Sandbox()

    response = post(sandbox, content=content, headers={"content-type": "application/json"})

    assert (response.status_code, response.text) == (400, rejected_body(error))
    assert sandbox.intakes == []


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (lead(without=("CaptorraId",)), ApiError.MISSING_CAPTORRA_ID),
        (lead(CaptorraId="  "), ApiError.MISSING_CAPTORRA_ID),
        (lead(CaptorraId=None), ApiError.MISSING_CAPTORRA_ID),
        (lead(without=("CaptorraId", "First")), ApiError.MISSING_CAPTORRA_ID),
        (lead(without=("First", "Last")), ApiError.MISSING_FIRST),
        (lead(First=""), ApiError.MISSING_FIRST),
        (lead(Last="\t"), ApiError.MISSING_LAST),
        (lead(without=("Last", "Referrer")), ApiError.MISSING_LAST),
        (lead(without=("Referrer",)), ApiError.MISSING_REFERRER),
        (lead(Referrer=" "), ApiError.MISSING_REFERRER),
        (lead(First="", Referrer="not a GUID"), ApiError.MISSING_FIRST),
        (lead(Referrer=f"{{{REFERRER}}}"), ApiError.INVALID_GUID),
        (lead(Referrer=REFERRER.replace("-", "")), ApiError.INVALID_GUID),
        (lead(Referrer=REFERRER[:-1]), ApiError.INVALID_GUID),
        (lead(Referrer=REFERRER + "0"), ApiError.INVALID_GUID),
        (lead(Referrer=f" {REFERRER}"), ApiError.INVALID_GUID),
        (lead(Referrer="g" + REFERRER[1:]), ApiError.INVALID_GUID),
        (lead(Referrer=12345), ApiError.INVALID_GUID),
        (lead(Type="practice area"), ApiError.INVALID_GUID),
        (lead(Type=["not", "a", "GUID"]), ApiError.INVALID_GUID),
    ],
    ids=lambda value: "" if isinstance(value, dict) else str(value),
)
def test_documented_errors_in_documented_order(payload: dict[str, Any], error: str) -> None:
    sandbox = Sandbox()

    response = post(sandbox, json=payload)

    assert response.status_code == 400
    assert response.text == rejected_body(error)
    assert response.json() == {"success": False, "error": error}
    assert sandbox.intakes == []


KNOWN = SandboxConfig(referrers=frozenset({REFERRER}), types=frozenset({TYPE.upper()}))


@pytest.mark.parametrize(
    ("payload", "status", "error"),
    [
        (lead(Type=TYPE), 200, None),
        (lead(Referrer=REFERRER.upper(), Type=TYPE.lower()), 200, None),
        (lead(), 200, None),
        (lead(Referrer=UNKNOWN), 400, ApiError.UNKNOWN_GUID),
        (lead(Type=UNKNOWN), 400, ApiError.UNKNOWN_GUID),
        (lead(Referrer=UNKNOWN, Type="bad"), 400, ApiError.INVALID_GUID),
    ],
)
def test_guids_must_exist_when_the_organization_is_configured(
    payload: dict[str, Any], status: int, error: str | None
) -> None:
    response = post(Sandbox(KNOWN), json=payload)

    assert response.status_code == status
    assert response.json().get("error") == error


def test_unconfigured_types_accept_any_well_formed_guid() -> None:
    sandbox = Sandbox(SandboxConfig(referrers=frozenset({REFERRER})))

    assert post(sandbox, json=lead(Type=UNKNOWN)).status_code == 200


@pytest.mark.parametrize(
    "options",
    [
        {"latency": -1.0},
        {"slow_seconds": math.nan},
        {"retry_after": math.inf},
        {"fault_rate": 1.5},
        {"fault_rate": 0.5, "faults": ()},
        {"referrers": frozenset({f"{{{REFERRER}}}"})},
        {"types": frozenset({"practice area"})},
    ],
)
def test_a_config_that_makes_no_sense_is_a_usage_error(options: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match=r"^sandbox: "):
        SandboxConfig(**options)


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("POST", "http://127.0.0.1/", 200),
        ("POST", f"http://127.0.0.1{SANDBOX_PATH}/", 404),
        ("POST", "http://127.0.0.1/api/other", 404),
        ("GET", IN_PROCESS_URL, 405),
    ],
)
def test_in_process_routes(method: str, url: str, status: int) -> None:
    response = post(Sandbox(), method=method, url=url, json=lead())

    assert response.status_code == status


def test_the_record_file_gets_one_json_line_per_created_intake(record: Path) -> None:
    sandbox = Sandbox(SandboxConfig(record=record))

    send_all(sandbox, [{"json": lead()}, {"json": lead(First="")}, {"json": lead(Last="Byron")}])

    created: list[dict[str, Any]] = [
        {"IntakeID": intake_id, "payload": payload} for intake_id, payload in sandbox.intakes
    ]
    assert [entry["payload"]["Last"] for entry in created] == ["Lovelace", "Byron"]
    assert read_record(record) == created
    assert record.stat().st_mode & 0o777 == 0o600


# --- Faults, in process ---


@pytest.mark.parametrize(
    ("fault", "status", "created"),
    [
        (Fault.UNAVAILABLE, 503, False),
        (Fault.GATEWAY_HTML, 502, False),
        (Fault.ERROR_AFTER_CREATE, 500, True),
    ],
)
def test_html_error_faults(fault: Fault, status: int, created: bool) -> None:
    sandbox = Sandbox(faulty(fault))

    response = post(sandbox, json=lead())

    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.lstrip().startswith("<")
    assert len(sandbox.intakes) == int(created)


@pytest.mark.parametrize(("retry_after", "header"), [(1.0, "1"), (0.0, "0"), (0.25, "0.25")])
def test_unavailable_says_when_to_retry(retry_after: float, header: str) -> None:
    sandbox = Sandbox(faulty(Fault.UNAVAILABLE, retry_after=retry_after))

    assert post(sandbox, json=lead()).headers["retry-after"] == header


@pytest.mark.parametrize(
    ("fault", "created"), [(Fault.DROP_BEFORE_CREATE, 0), (Fault.DROP_AFTER_CREATE, 1)]
)
def test_dropped_connections_give_no_answer(fault: Fault, created: int) -> None:
    sandbox = Sandbox(faulty(fault))

    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        post(sandbox, json=lead())

    assert len(sandbox.intakes) == created


def test_a_fault_after_processing_creates_nothing_for_an_invalid_lead() -> None:
    sandbox = Sandbox(faulty(Fault.ERROR_AFTER_CREATE))

    assert post(sandbox, json=lead(First="")).status_code == 500
    assert sandbox.intakes == []


def test_a_slow_answer_outlasts_the_client_timeout_but_the_intake_exists() -> None:
    sandbox = Sandbox(faulty(Fault.SLOW, slow_seconds=60.0))
    started = time.monotonic()

    with pytest.raises(httpx.ReadTimeout):
        post(sandbox, json=lead(), timeout=0.05)

    assert time.monotonic() - started < 2
    assert len(sandbox.intakes) == 1


def test_a_slow_answer_within_the_client_timeout_arrives() -> None:
    sandbox = Sandbox(faulty(Fault.SLOW, slow_seconds=0.05))

    response = post(sandbox, json=lead(), timeout=5.0)

    assert response.status_code == 200
    assert sandbox.intakes[0][0] == response.json()["IntakeID"]


def test_fault_draws_are_reproducible_with_a_seed() -> None:
    def statuses(seed: int) -> list[int]:
        config = SandboxConfig(
            fault_rate=0.5, faults=(Fault.UNAVAILABLE, Fault.GATEWAY_HTML), seed=seed
        )
        responses = send_all(Sandbox(config), [{"json": lead()}] * 40)
        return [response.status_code for response in responses]

    first = statuses(seed=7)

    assert first == statuses(seed=7)
    assert {200, 502, 503} <= set(first)


def test_latency_delays_every_answer_without_blocking_the_loop() -> None:
    config = SandboxConfig(latency=0.2, fault_rate=0.5, faults=(Fault.UNAVAILABLE,), seed=1)
    sandbox = Sandbox(config)

    async def run() -> list[int]:
        async with httpx.AsyncClient(transport=sandbox.transport()) as client:
            requests = [client.post(IN_PROCESS_URL, json=lead()) for _ in range(10)]
            return [response.status_code for response in await asyncio.gather(*requests)]

    started = time.monotonic()
    statuses = asyncio.run(run())
    elapsed = time.monotonic() - started

    assert {200, 503} <= set(statuses)
    assert 0.2 <= elapsed < 1.0  # ten answers, each 0.2 s late, waited for together


# --- Over HTTP on loopback ---


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


def test_the_server_answers_like_captorra(http: httpx.Client, record: Path) -> None:
    with running_server(SandboxConfig(record=record)) as (url, sandbox):
        created = http.post(url, json=lead())
        invalid = http.post(url, json=lead(Referrer="{" + REFERRER + "}"))
        not_json = http.post(url, content=b"{", headers={"content-type": "application/json"})
        at_root = http.post(url.removesuffix(SANDBOX_PATH) + "/", json=lead())
        elsewhere = http.post(url + "/", json=lead())
        wrong_method = http.get(url)

    assert url.startswith("http://127.0.0.1:")
    assert created.status_code == 200
    assert sandbox.intakes[0] == (created.json()["IntakeID"], lead())
    assert (invalid.status_code, invalid.text) == (400, rejected_body(ApiError.INVALID_GUID))
    assert not_json.text == rejected_body(ApiError.JSON_SYNTAX)
    assert at_root.status_code == 200
    assert (elsewhere.status_code, wrong_method.status_code) == (404, 405)
    assert wrong_method.headers["allow"] == "POST"
    assert len(read_record(record)) == 2


def test_the_server_sends_503_with_retry_after(http: httpx.Client) -> None:
    with running_server(faulty(Fault.UNAVAILABLE, retry_after=0.0)) as (url, sandbox):
        response = http.post(url, json=lead())

    assert response.status_code == 503
    assert response.headers["retry-after"] == "0"
    assert sandbox.intakes == []


@pytest.mark.parametrize(
    ("fault", "created"), [(Fault.DROP_BEFORE_CREATE, 0), (Fault.DROP_AFTER_CREATE, 1)]
)
def test_the_server_really_drops_the_connection(
    http: httpx.Client, fault: Fault, created: int
) -> None:
    with running_server(faulty(fault)) as (url, sandbox):
        for _ in range(2):  # a second request on a fresh connection is dropped too
            with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
                http.post(url, json=lead())

    assert len(sandbox.intakes) == 2 * created


@pytest.mark.parametrize(
    ("fault", "created", "ambiguous"),
    [(Fault.DROP_BEFORE_CREATE, 0, True), (Fault.DROP_AFTER_CREATE, 1, True)],
)
def test_the_importers_client_takes_a_drop_as_an_unanswered_attempt(
    fault: Fault, created: int, ambiguous: bool
) -> None:
    # The client cannot tell the two apart: both dropped after the request was sent.
    async def run(url: str) -> Answer:
        async with make_client(PostSettings(endpoint=url)) as client:
            try:
                await client.post(json.dumps(lead()).encode())
            except SEND_FAILURES as error:
                return interpret_failure(error, url)
        raise AssertionError("the drop was not an error")

    with running_server(faulty(fault)) as (url, sandbox):
        answer = asyncio.run(run(url))

    assert answer == Answer(
        "transient", error="connection dropped without an answer", ambiguous=ambiguous
    )
    assert len(sandbox.intakes) == created


def test_without_the_socket_a_drop_still_fails_the_client(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fallback for a server whose request cycle does not expose its transport.
    monkeypatch.setattr(sandbox_module, "_connection_transport", lambda receive: None)
    with (
        running_server(faulty(Fault.DROP_BEFORE_CREATE)) as (url, sandbox),
        pytest.raises(httpx.RemoteProtocolError),
    ):
        http.post(url, json=lead())

    assert sandbox.intakes == []


def test_the_server_answers_a_slow_request_late(http: httpx.Client) -> None:
    with running_server(faulty(Fault.SLOW, slow_seconds=0.3)) as (url, sandbox):
        started = time.monotonic()
        response = http.post(url, json=lead(), timeout=5.0)
        elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed >= 0.3
    assert sandbox.intakes[0][0] == response.json()["IntakeID"]


def test_the_server_really_waits_and_stops_promptly_after(http: httpx.Client) -> None:
    started = time.monotonic()
    with (
        running_server(faulty(Fault.SLOW, slow_seconds=30.0)) as (url, sandbox),
        pytest.raises(httpx.ReadTimeout),
    ):
        http.post(url, json=lead(), timeout=0.3)

    assert time.monotonic() - started < 3
    assert len(sandbox.intakes) == 1


def test_the_record_file_holds_exactly_the_created_intakes(
    http: httpx.Client, record: Path
) -> None:
    # Two servers append to one file; the client never learns of the dropped one.
    with running_server(SandboxConfig(record=record)) as (url, first):
        for payload in (lead(), lead(First=""), lead(Last="Byron")):
            http.post(url, json=payload)
    with (
        running_server(faulty(Fault.DROP_AFTER_CREATE, record=record)) as (url, second),
        pytest.raises(httpx.TransportError),
    ):
        http.post(url, json=lead(Last="Shelley"))

    created = [*first.intakes, *second.intakes]
    assert [(entry["IntakeID"], entry["payload"]) for entry in read_record(record)] == created
    assert [payload["Last"] for _, payload in created] == ["Lovelace", "Byron", "Shelley"]


SERVE_SCRIPT = """
from importer.sandbox import SandboxConfig, serve
serve(SandboxConfig(), port=0, on_ready=lambda url: print(url, flush=True))
print("stopped", flush=True)
"""


def test_serve_runs_until_ctrl_c_and_logs_nothing(http: httpx.Client) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", SERVE_SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        response = http.post(url, json=lead(First="Ada-in-a-log"))
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=5)

    assert url.startswith("http://127.0.0.1:")
    assert url.endswith(SANDBOX_PATH)
    assert response.status_code == 200
    assert (process.returncode, out, err) == (0, "stopped\n", "")


def test_cancel_stops_a_send_to_the_in_process_sandbox(tmp_path: Path) -> None:
    """The in-process sandbox answers without waiting: it must still let a Stop through."""
    rows = 3_000
    source = write_csv(tmp_path / "leads.csv", lead_rows(rows))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    cancel = threading.Event()
    posted = 0

    class StopAfter:
        def file_started(self, path: Path, count: int | None) -> None:
            pass

        def rows_done(self, status: str, count: int) -> None:
            nonlocal posted
            posted += count if status == "posted" else 0
            if posted >= 50:
                cancel.set()

        def file_finished(self, report: object) -> None:
            pass

    job = ImportJob(
        inputs=(source,),
        mapping=mapping,
        output=tmp_path / "results.xlsx",
        post=PostSettings(endpoint="https://unused.example"),
        sandbox=True,
        journal=tmp_path / "journal.sqlite3",
    )
    report = import_files(
        job, observer=StopAfter(), cancel=cancel, environ={"CAPTORRA_ID": "123456"}
    ).files[0]
    assert 50 <= report.counts["posted"] < rows
    assert report.counts["failed"] == rows - report.counts["posted"]
    assert report.interrupted
    statuses = [row["Status"] for row in read_sheet(tmp_path / "results.xlsx")]
    assert statuses.count("posted") == report.counts["posted"]


# --- Misbehaviours of real deployments, on demand ---


@pytest.mark.parametrize("style", list(AnswerStyle))
def test_every_answer_style_creates_the_intake_and_the_importer_reads_it_as_meant(
    style: AnswerStyle,
) -> None:
    sandbox = Sandbox(SandboxConfig(answer_style=style))
    response = post(sandbox, json=lead())
    ((intake_id, _),) = sandbox.intakes
    answer = interpret(response)
    assert response.status_code == 200
    if style in {AnswerStyle.HTML, AnswerStyle.EMPTY, AnswerStyle.UNEXPECTED_JSON}:
        assert answer.kind == "unconfirmed"
    elif style is AnswerStyle.NO_INTAKE_ID:
        assert (answer.kind, answer.intake_id) == ("posted", "")
    else:
        assert (answer.kind, answer.intake_id) == ("posted", intake_id)


def test_the_page_typo_style_is_the_broken_quote_captorras_page_prints() -> None:
    sandbox = Sandbox(SandboxConfig(answer_style=AnswerStyle.PAGE_TYPO))
    text = post(sandbox, json=lead()).text
    ((intake_id, _),) = sandbox.intakes
    assert text == f'{{"success": true, "IntakeID: "{intake_id}"}}'


@pytest.mark.parametrize(
    ("config", "status", "headers"),
    [
        (SandboxConfig(status=404), 404, {}),
        (SandboxConfig(status=401), 401, {}),
        (SandboxConfig(status=200), 200, {}),
        (SandboxConfig(status=301), 301, {"location": "/login"}),
        (
            SandboxConfig(redirect="https://sso.example.test/"),
            302,
            {"location": "https://sso.example.test/"},
        ),
        (SandboxConfig(status=429, retry_after=7), 429, {"retry-after": "7"}),
        (SandboxConfig(status=503, retry_after=0.5), 503, {"retry-after": "0.5"}),
    ],
)
def test_a_fixed_status_answers_every_request_and_creates_nothing(
    config: SandboxConfig, status: int, headers: dict[str, str]
) -> None:
    sandbox = Sandbox(config)
    responses = send_all(sandbox, [{"json": lead()}, {"json": {}}])
    assert [response.status_code for response in responses] == [status, status]
    for name, value in headers.items():
        assert responses[0].headers[name] == value
    if status in {429, 503}:
        assert responses[0].json()["success"] is False  # Captorra-shaped, on purpose
    assert sandbox.intakes == []
    assert sandbox.requests == 2


def test_reject_with_refuses_every_valid_lead_with_that_text() -> None:
    sandbox = Sandbox(SandboxConfig(reject_with="Organization is inactive."))
    responses = send_all(sandbox, [{"json": lead()}, {"json": lead(without=("First",))}])
    assert [r.json()["error"] for r in responses] == [
        "Organization is inactive.",
        ApiError.MISSING_FIRST,
    ]
    assert sandbox.intakes == []


def test_a_trickled_answer_outlasts_a_short_client_timeout_but_creates_the_intake() -> None:
    sandbox = Sandbox(SandboxConfig(trickle=0.5))
    with pytest.raises(httpx.ReadTimeout):
        post(sandbox, json=lead(), timeout=0.2)
    assert len(sandbox.intakes) == 1


def test_a_status_outside_http_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="status must be an HTTP status"):
        SandboxConfig(status=99)
