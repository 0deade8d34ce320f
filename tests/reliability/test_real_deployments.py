"""Posting against servers that answer as real deployments and networks do (real sockets).

Every server here listens on 127.0.0.1: the sandbox playing a misbehaviour
(an answer in another shape, a wrong URL, a refusal, a redirect, a login page,
an unknown certificate authority, a trickle, a long Retry-After), and a tiny
proxy for the forward and CONNECT cases. Each test checks what the server
received, not only what the importer says.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner, Result

from importer.cli import cli
from importer.connection import ConnectionReport, check_connection, check_connection_async
from importer.pipeline import ImportJob, import_files
from importer.posting import NO_INTAKE_ID_WARNING, RESENT_WARNING, PostSettings
from importer.sandbox import AnswerStyle, Fault, Sandbox, SandboxConfig, running_server
from tests.leads import AUTO_TYPE, lead_rows, read_sheet, write_csv
from tests.proxy import LoopbackProxy
from tests.reliability.test_posting_faults import created

CONCURRENCY = 4


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(arg) for arg in args])


@pytest.fixture
def mapping(mapping_file: Path) -> Path:
    return mapping_file


@pytest.fixture
def leads(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "leads.csv", lead_rows(30))


def run(leads: Path, mapping: Path, url: str, tmp_path: Path, *options: str | Path) -> Result:
    return invoke(
        "run",
        leads,
        "-m",
        mapping,
        "--endpoint",
        url,
        "--journal",
        tmp_path / "j.sqlite3",
        "-o",
        tmp_path / "out.xlsx",
        "--concurrency",
        str(CONCURRENCY),
        *options,
    )


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A test CA and a certificate it issued for localhost and 127.0.0.1 (PEM files)."""
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    paths = {name: folder / f"{name}.pem" for name in ("ca", "chain", "key")}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server.private_key_pem.write_to_path(str(paths["key"]))
    for index, blob in enumerate(server.cert_chain_pems):
        blob.write_to_path(str(paths["chain"]), append=index > 0)
    return paths


@pytest.fixture
def tls_server(certificates: dict[str, Path]) -> Iterator[tuple[str, Sandbox]]:
    tls = (certificates["chain"], certificates["key"])
    with running_server(SandboxConfig(), host="127.0.0.1", tls=tls) as (url, sandbox):
        yield url.replace("127.0.0.1", "localhost"), sandbox


# ---------------------------------------------------------------- answers in every shape


@pytest.mark.parametrize(
    "style",
    [
        AnswerStyle.CAPTORRA,
        AnswerStyle.NO_INTAKE_ID,
        AnswerStyle.STRING_TRUE,
        AnswerStyle.CAPITALISED,
        AnswerStyle.NUMBER,
        AnswerStyle.WRAPPED,
        AnswerStyle.JSON_STRING,
        AnswerStyle.PAGE_TYPO,
    ],
)
def test_every_success_shape_posts_each_lead_exactly_once_over_two_runs(
    leads: Path, mapping: Path, tmp_path: Path, style: AnswerStyle
) -> None:
    with running_server(SandboxConfig(answer_style=style)) as (url, sandbox):
        first = run(leads, mapping, url, tmp_path)
        rows = read_sheet(tmp_path / "out.xlsx")
        second = run(leads, mapping, url, tmp_path)
        again = read_sheet(tmp_path / "out.xlsx")
        requests, counts = sandbox.requests, created(sandbox)
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert requests == 30
    assert set(counts.values()) == {1}
    assert len(counts) == 30
    assert {row["Status"] for row in rows} == {"posted"}
    assert {row["Status"] for row in again} == {"already_posted"}
    if style is AnswerStyle.NO_INTAKE_ID:
        assert {row["IntakeID"] for row in rows} == {None}
        assert {row["Warnings"] for row in rows} == {NO_INTAKE_ID_WARNING}
    else:
        intake_ids = {intake_id for intake_id, _ in sandbox.intakes}
        assert {row["IntakeID"] for row in rows} == intake_ids


@pytest.mark.parametrize(
    "style", [AnswerStyle.HTML, AnswerStyle.EMPTY, AnswerStyle.UNEXPECTED_JSON]
)
def test_an_answer_nobody_can_read_is_unconfirmed_and_never_sent_again(
    mapping: Path, tmp_path: Path, style: AnswerStyle
) -> None:
    leads = write_csv(tmp_path / "leads.csv", lead_rows(4))
    with running_server(SandboxConfig(answer_style=style)) as (url, sandbox):
        first = run(leads, mapping, url, tmp_path)
        rows = read_sheet(tmp_path / "out.xlsx")
        second = run(leads, mapping, url, tmp_path)
        again = read_sheet(tmp_path / "out.xlsx")
        requests = sandbox.requests
    assert requests == 4  # each lead once, over both runs
    assert (first.exit_code, second.exit_code) == (1, 1), first.output
    assert {row["Status"] for row in rows} == {"unconfirmed"}
    assert all(
        str(row["Error"]).startswith("HTTP 200: not an answer Captorra gives") for row in rows
    )
    assert {row["Status"] for row in again} == {"unconfirmed"}
    assert all("re-run with --repost" in str(row["Error"]) for row in again)


# ---------------------------------------------------------------- configuration stops


@pytest.mark.parametrize(
    ("config", "cause"),
    [
        (SandboxConfig(status=404), "answered 404 Not Found: is the endpoint URL right?"),
        (SandboxConfig(status=401), "answered 401 Unauthorized: the server refuses this client"),
        (SandboxConfig(status=403), "answered 403 Forbidden: the server refuses this client"),
        (
            SandboxConfig(redirect="https://login.example.test/sso"),
            "answered 302 Found, redirecting to https://login.example.test/sso",
        ),
        (SandboxConfig(status=200), "does not answer like Captorra (5 answers in a row"),
    ],
    ids=["404", "401", "403", "302", "html-200"],
)
def test_a_misconfigured_endpoint_stops_at_once_with_exit_2(
    leads: Path, mapping: Path, tmp_path: Path, config: SandboxConfig, cause: str
) -> None:
    with running_server(config) as (url, sandbox):
        result = run(leads, mapping, url, tmp_path, "--quiet")
        requests = sandbox.requests
    assert result.exit_code == 2, result.output
    assert requests <= CONCURRENCY + 5
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1  # printed even with --quiet, and once
    assert cause in errors[0]
    rows = read_sheet(tmp_path / "out.xlsx")
    assert not any(RESENT_WARNING in str(row["Warnings"]) for row in rows)
    assert not any("unanswered" in str(row["Warnings"]) for row in rows)
    not_sent = [row for row in rows if str(row["Error"]).startswith("not sent: ")]
    assert len(not_sent) >= 30 - requests
    assert {row["Status"] for row in not_sent} == {"failed"}


def test_an_unknown_certificate_authority_stops_at_once_naming_host_and_reason(
    leads: Path, mapping: Path, tmp_path: Path, tls_server: tuple[str, Sandbox]
) -> None:
    url, sandbox = tls_server
    result = run(leads, mapping, url, tmp_path, "--quiet")
    assert result.exit_code == 2, result.output
    port = url.split(":")[2].split("/")[0]
    assert result.stderr.strip() == (
        f"error: the TLS certificate of localhost:{port} is not trusted: unable to get local "
        "issuer certificate; if your network inspects HTTPS, give its CA certificate with "
        "--ca-bundle FILE (or SSL_CERT_FILE); nothing was sent"
    )
    assert sandbox.requests == 0
    rows = read_sheet(tmp_path / "out.xlsx")
    assert {row["Status"] for row in rows} == {"failed"}
    assert not any(row["Warnings"] for row in rows)


def test_the_test_ca_given_with_ca_bundle_is_trusted(
    leads: Path,
    mapping: Path,
    tmp_path: Path,
    tls_server: tuple[str, Sandbox],
    certificates: dict[str, Path],
) -> None:
    url, sandbox = tls_server
    result = run(leads, mapping, url, tmp_path, "--ca-bundle", certificates["ca"])
    assert result.exit_code == 0, result.output
    assert len(created(sandbox)) == 30


def test_ssl_cert_file_adds_a_trusted_ca(
    leads: Path,
    mapping: Path,
    tmp_path: Path,
    tls_server: tuple[str, Sandbox],
    certificates: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates["ca"]))
    url, sandbox = tls_server
    assert run(leads, mapping, url, tmp_path).exit_code == 0
    assert len(created(sandbox)) == 30


def test_the_same_rejection_over_and_over_stops_early_with_exit_2(
    leads: Path, mapping: Path, tmp_path: Path
) -> None:
    config = SandboxConfig(referrers=frozenset({"11111111-1111-4111-8111-111111111111"}))
    with running_server(config) as (url, sandbox):
        summary = tmp_path / "summary.json"
        result = run(
            leads,
            mapping,
            url,
            tmp_path,
            "--stop-after-same-rejection",
            "5",
            "--summary-json",
            summary,
        )
        requests = sandbox.requests
    assert result.exit_code == 2, result.output
    assert requests <= 5 + CONCURRENCY
    assert (
        "error: every lead was refused with 'Referrer/Type GUID does not exist.' (5 in a row, "
        "none created): the Referrer GUID (CAPTORRA_REFERRER) or the Type lookup of the "
        "mapping is likely wrong; fix it and re-run"
    ) in result.stderr
    assert "Referrer/Type GUID does not exist. (Type 6f1c2a3b-" in result.stdout  # grouped
    (file,) = json.loads(summary.read_text())["files"]
    assert file["stop_kind"] == "mapping"
    assert file["rejections"] == [
        {"error": "Referrer/Type GUID does not exist.", "type": AUTO_TYPE, "rows": requests}
    ]


# ---------------------------------------------------------------- waiting


@pytest.mark.parametrize("fault", [Fault.RATE_LIMITED, Fault.UNAVAILABLE_JSON])
def test_429_and_503_with_captorra_shaped_bodies_are_retried(
    leads: Path, mapping: Path, tmp_path: Path, fault: Fault
) -> None:
    config = SandboxConfig(fault_rate=0.4, faults=(fault,), retry_after=0.0, seed=5)
    with running_server(config) as (url, sandbox):
        result = run(leads, mapping, url, tmp_path, "--retries", "20")
        requests, counts = sandbox.requests, created(sandbox)
    assert result.exit_code == 0, result.output
    assert requests > 30  # some were refused and sent again
    assert set(counts.values()) == {1}
    assert len(counts) == 30
    assert {row["Warnings"] for row in read_sheet(tmp_path / "out.xlsx")} == {None}


def test_a_retry_after_of_an_hour_stops_and_says_so(
    leads: Path, mapping: Path, tmp_path: Path
) -> None:
    with running_server(SandboxConfig(status=503, retry_after=3600)) as (url, sandbox):
        result = run(leads, mapping, url, tmp_path)
        requests = sandbox.requests
    assert result.exit_code == 3, result.output
    assert requests <= CONCURRENCY
    assert (
        "Stopped early: the server asked to wait 3600 s before retrying (Retry-After), more "
        "than --max-retry-after 300 s; re-run later"
    ) in result.stdout


def test_ctrl_c_during_a_long_wait_exits_130_at_once(
    leads: Path, mapping: Path, tmp_path: Path
) -> None:
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with running_server(SandboxConfig(status=429, retry_after=250)) as (url, sandbox):
        command = [sys.executable, "-m", "importer", "run", str(leads), "-m", str(mapping)]
        command += ["--endpoint", url, "--journal", str(tmp_path / "j.sqlite3")]
        command += ["-o", str(tmp_path / "out.xlsx")]
        process = subprocess.Popen(
            command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 60
        while sandbox.requests < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sandbox.requests >= 8  # every worker now waits 250 s
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)  # far less than 250 s
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "exit code 130: interrupted" in stdout


def test_timeout_bounds_the_whole_answer_of_a_trickling_server(
    mapping: Path, tmp_path: Path
) -> None:
    leads = write_csv(tmp_path / "leads.csv", lead_rows(2))
    with running_server(SandboxConfig(trickle=1.0)) as (url, _):
        # The answers take ~70 s a byte at a time; a read timeout alone would never fire.
        started = time.monotonic()
        result = run(leads, mapping, url, tmp_path, "--timeout", "1", "--retries", "0")
        elapsed = time.monotonic() - started
    assert result.exit_code == 3, result.output
    assert elapsed < 30
    rows = read_sheet(tmp_path / "out.xlsx")
    assert {row["Error"] for row in rows} == {
        "no complete answer within the timeout (--timeout 1 s)"
    }


# ---------------------------------------------------------------- proxies


def test_plain_http_goes_through_the_forward_proxy_of_http_proxy(
    leads: Path, mapping: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LoopbackProxy().running() as proxy, running_server(SandboxConfig()) as (url, sandbox):
        monkeypatch.setenv("http_proxy", proxy.url)
        result = run(leads, mapping, url, tmp_path)
    assert result.exit_code == 0, result.output
    assert len(created(sandbox)) == 30
    assert proxy.requests.count(f"POST {url}") == 30


def test_https_is_tunnelled_with_connect_through_https_proxy(
    leads: Path,
    mapping: Path,
    tmp_path: Path,
    tls_server: tuple[str, Sandbox],
    certificates: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, sandbox = tls_server
    host_port = url.split("/")[2]
    with LoopbackProxy().running() as proxy:
        # Credentials in the proxy URL go to the proxy (Proxy-Authorization) only.
        address = proxy.url.removeprefix("http://")
        monkeypatch.setenv("HTTPS_PROXY", f"http://nightly:s%40cret@{address}")
        result = run(leads, mapping, url, tmp_path, "--ca-bundle", certificates["ca"])
    assert result.exit_code == 0, result.output
    assert len(created(sandbox)) == 30
    assert proxy.requests
    assert set(proxy.requests) == {f"CONNECT {host_port}"}
    credentials = b"Proxy-Authorization: Basic " + base64.b64encode(b"nightly:s@cret")
    assert all(credentials in head for head in proxy.heads)
    assert "s@cret" not in result.output


def test_no_proxy_and_the_proxy_option(
    leads: Path, mapping: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LoopbackProxy().running() as proxy, running_server(SandboxConfig()) as (url, _):
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens: would fail
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert run(leads, mapping, url, tmp_path).exit_code == 0
        assert proxy.requests == []
        monkeypatch.delenv("NO_PROXY")
        more = write_csv(tmp_path / "more.csv", lead_rows(3, start=100))
        assert run(more, mapping, url, tmp_path, "--proxy", proxy.url).exit_code == 0
    assert len(proxy.requests) == 3


# ---------------------------------------------------------------- what is sent


def test_non_ascii_names_travel_as_ascii_json_and_arrive_right(
    mapping: Path, tmp_path: Path
) -> None:
    rows = lead_rows(2)
    rows[0] = ("L1", "José", "Nguyễn", *rows[0][3:])
    rows[1] = ("L2", "Zoë", "Łukasz-阮", *rows[1][3:])
    leads = write_csv(tmp_path / "leads.csv", rows)
    with LoopbackProxy().running() as proxy, running_server(SandboxConfig()) as (url, sandbox):
        result = run(leads, mapping, url, tmp_path, "--proxy", proxy.url)
        names = {(p["First"], p["Last"]) for _, p in sandbox.intakes}
    assert result.exit_code == 0, result.output
    assert names == {("José", "Nguyễn"), ("Zoë", "Łukasz-阮")}
    assert len(proxy.bodies) == 2
    assert all(body.isascii() for body in proxy.bodies)
    assert any(b"Jos\\u00e9" in body for body in proxy.bodies)


def test_a_300_character_error_is_kept_whole(leads: Path, mapping: Path, tmp_path: Path) -> None:
    text = "Lead refused: " + "the posting source is not allowed for this organization. " * 5
    text = text[:300]
    with running_server(SandboxConfig(reject_with=text)) as (url, _):
        result = run(leads, mapping, url, tmp_path, "--stop-after-same-rejection", "0")
    assert result.exit_code == 1, result.output
    assert {row["Error"] for row in read_sheet(tmp_path / "out.xlsx")} == {text}


# ---------------------------------------------------------------- check-connection


def test_check_connection_passes_a_good_endpoint_step_by_step(
    tls_server: tuple[str, Sandbox], certificates: dict[str, Path]
) -> None:
    url, sandbox = tls_server
    result = invoke("check-connection", "--endpoint", url, "--ca-bundle", certificates["ca"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:-1]] == ["ok"] * 4
    assert (
        "post {} (creates nothing): answered like Captorra: 'Please provide the CaptorraId'"
        in lines[-2]
    )
    assert sandbox.intakes == []


def test_check_connection_through_a_proxy_opens_a_tunnel(
    tls_server: tuple[str, Sandbox], certificates: dict[str, Path]
) -> None:
    url, _ = tls_server
    with LoopbackProxy().running() as proxy:
        report = check_connection(url, proxy=proxy.url, ca_bundle=certificates["ca"])
    assert report.ok
    assert [step.name.split()[0] for step in report.steps] == [
        "resolve",
        "connect",
        "tunnel",
        "TLS",
        "post",
    ]
    assert proxy.requests[0].startswith("CONNECT localhost:")


@pytest.mark.parametrize(
    ("config", "failed", "words"),
    [
        (SandboxConfig(status=404), "post", "answered 404 Not Found"),
        (SandboxConfig(status=200), "post", "not an answer Captorra gives"),
        (SandboxConfig(status=503), "post", "HTTP 503: Service Unavailable"),
    ],
    ids=["404", "html-200", "503"],
)
def test_check_connection_names_the_step_that_fails(
    config: SandboxConfig, failed: str, words: str
) -> None:
    with running_server(config) as (url, _):
        result = invoke("check-connection", "--endpoint", url)
    assert result.exit_code == 2
    failures = [line for line in result.stdout.splitlines() if "FAILED" in line]
    assert len(failures) == 1
    assert failures[0].split()[1] == failed
    assert words in failures[0]


def test_check_connection_names_an_untrusted_certificate_and_a_refused_port(
    tls_server: tuple[str, Sandbox],
) -> None:
    url, _ = tls_server
    result = invoke("check-connection", "--endpoint", url)
    assert result.exit_code == 2
    assert "FAILED TLS with localhost:" in result.stdout
    assert "the certificate is not trusted: unable to get local issuer certificate" in result.stdout
    assert "what to do: if your network inspects HTTPS, give its CA certificate" in result.stdout
    refused = invoke("check-connection", "--endpoint", "http://127.0.0.1:9/create")
    assert refused.exit_code == 2
    assert "FAILED connect to 127.0.0.1:9: connection refused" in refused.stdout


def test_check_connection_of_the_sandbox() -> None:
    result = invoke("check-connection", "--sandbox")
    assert result.exit_code == 0, result.output
    assert "The endpoint answers like Captorra: ready to send." in result.stdout


def test_the_page_stop_ends_a_long_wait_at_once(leads: Path, mapping: Path, tmp_path: Path) -> None:
    cancel = threading.Event()
    with running_server(SandboxConfig(status=429, retry_after=250)) as (url, sandbox):
        job = ImportJob(
            inputs=(leads,),
            mapping=mapping,
            output=tmp_path / "out.xlsx",
            post=PostSettings(endpoint=url, concurrency=2),
            journal=tmp_path / "j.sqlite3",
        )

        def stop_once_waiting() -> None:
            while sandbox.requests < 2:
                time.sleep(0.01)
            cancel.set()

        threading.Thread(target=stop_once_waiting, daemon=True).start()
        report = import_files(job, cancel=cancel)  # without the stop: 250 s per retry
    assert report.exit_code == 130
    rows = read_sheet(tmp_path / "out.xlsx")
    assert {row["Status"] for row in rows} == {"failed"}
    assert all(str(row["Error"]).endswith("cancelled; re-run to send") for row in rows)


def test_the_breaker_names_the_cause_of_the_failures(
    leads: Path, mapping: Path, tmp_path: Path
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # closed again below: nothing listens there
    url = f"http://127.0.0.1:{port}/api/captorraapi/create"
    settings = PostSettings(
        endpoint=url, concurrency=1, retries=1, breaker_after=3, backoff_cap=0.01
    )
    job = ImportJob(inputs=(leads,), mapping=mapping, output=tmp_path / "o.xlsx", post=settings)
    (report,) = import_files(job).files
    assert report.exit_code == 3
    assert report.stopped == (
        f"endpoint unavailable (3 failures in a row; last: connection refused by 127.0.0.1:{port})"
    )


def test_hold_keeps_an_unanswered_lead_for_a_person_instead_of_sending_it_again(
    mapping: Path, tmp_path: Path
) -> None:
    leads = write_csv(tmp_path / "leads.csv", lead_rows(3))
    config = SandboxConfig(fault_rate=1.0, faults=(Fault.DROP_AFTER_CREATE,))
    with running_server(config) as (url, sandbox):
        first = run(leads, mapping, url, tmp_path, "--on-unanswered", "hold")
        rows = read_sheet(tmp_path / "out.xlsx")
        second = run(leads, mapping, url, tmp_path)  # the default policy: still not sent
        counts = created(sandbox)
    assert (first.exit_code, second.exit_code) == (1, 1), first.output
    assert sandbox.requests == 3
    assert set(counts.values()) == {1}
    assert {row["Status"] for row in rows} == {"unconfirmed"}
    assert all("held, not sent again (--on-unanswered hold)" in str(row["Error"]) for row in rows)


def test_check_connection_takes_the_proxy_from_the_environment(
    tls_server: tuple[str, Sandbox], certificates: dict[str, Path]
) -> None:
    url, _ = tls_server
    with LoopbackProxy().running() as proxy:
        report = check_connection(
            url, ca_bundle=certificates["ca"], environ={"https_proxy": proxy.url}
        )
        bypassed = check_connection(
            url,
            ca_bundle=certificates["ca"],
            environ={"HTTPS_PROXY": proxy.url, "NO_PROXY": "localhost"},
        )
    assert report.ok
    assert report.proxy == proxy.url
    assert bypassed.ok
    assert bypassed.proxy is None
    assert len([r for r in proxy.requests if r.startswith("CONNECT")]) == 2  # tunnel + post


def test_a_web_page_can_await_the_check_on_its_own_event_loop() -> None:
    async def handler() -> ConnectionReport:
        return await check_connection_async("", sandbox=True)

    report = asyncio.run(handler())
    assert report.ok
    assert [step.name for step in report.steps] == ["post {} (creates nothing)"]
