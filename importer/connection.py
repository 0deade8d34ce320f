"""Checking the way to the endpoint, step by step, before any lead is sent.

`check_connection` resolves the host, connects (through the proxy when one
applies, tunnelling https with CONNECT), checks TLS with the same trust as a
run, and finally posts `{}` with the run's own client: Captorra answers that
with `Please provide the CaptorraId` and creates nothing. Each step says ok or
failed and, when it failed, what to do. The first failed step ends the check:
the later ones could only fail for the same reason.

Nothing here sends a lead, and nothing raises for a network problem: every
problem is a failed step. Only a bad option (an unreadable --ca-bundle, a
refused endpoint URL) raises `ImporterError`.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import unquote, urlsplit

import httpx

from importer.captorra import ApiError
from importer.pipeline import SANDBOX_ENDPOINT
from importer.posting import (
    SEND_FAILURES,
    PostSettings,
    check_endpoint,
    check_proxy,
    environment_proxy,
    interpret,
    interpret_failure,
    make_client,
    ssl_context,
)
from importer.sandbox import Sandbox

_P = ParamSpec("_P")
_T = TypeVar("_T")
_DNS_FIX = (
    "check the endpoint URL (--endpoint / CAPTORRA_ENDPOINT) and this machine's DNS; "
    "a network that reaches the internet only through a proxy needs HTTPS_PROXY or --proxy"
)


@dataclass(frozen=True)
class Step:
    """One step of the check: what was tried, how it went, what to do if it failed."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass
class ConnectionReport:
    endpoint: str
    proxy: str | None
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The endpoint answered like Captorra."""
        return bool(self.steps) and all(step.ok for step in self.steps)


async def check_connection_async(
    endpoint: str,
    *,
    sandbox: bool = False,
    proxy: str | None = None,
    ca_bundle: Path | None = None,
    timeout: float = 15.0,
    transport: httpx.AsyncBaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
) -> ConnectionReport:
    """Check every step between here and `endpoint`; see the module docstring.

    With `sandbox` (the in-process sandbox) or `transport` (a test's), only the
    post step runs: there is no network to check. `environ` supplies the proxy
    variables (default: this process's environment). A web page's handler
    awaits this; plain code calls `check_connection`, the same check blocking.
    """
    if sandbox:
        endpoint, transport = SANDBOX_ENDPOINT, Sandbox().transport()
    check_endpoint(endpoint)
    if proxy:
        check_proxy(proxy)
    context = ssl_context(ca_bundle)  # an unreadable --ca-bundle is a usage error, at once
    chosen = proxy or (None if transport else environment_proxy(endpoint, environ))
    report = ConnectionReport(endpoint, chosen)
    settings = PostSettings(
        endpoint=endpoint, concurrency=1, timeout=timeout, proxy=chosen, ca_bundle=ca_bundle
    )
    await _check(report, settings, context, transport)
    return report


def _blocking(
    function: Callable[_P, Coroutine[Any, Any, _T]],
) -> Callable[_P, _T]:
    @functools.wraps(function)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        return asyncio.run(function(*args, **kwargs))

    return run


check_connection = _blocking(check_connection_async)


async def _check(
    report: ConnectionReport,
    settings: PostSettings,
    context: ssl.SSLContext,
    transport: httpx.AsyncBaseTransport | None,
) -> None:
    if transport is None:
        target = urlsplit(settings.endpoint)
        first = urlsplit(settings.proxy) if settings.proxy else target
        first_host = first.hostname or ""
        first_port = first.port or (443 if first.scheme == "https" else 80)
        report.steps.append(await _resolve(first_host, first_port, proxy=bool(settings.proxy)))
        if not report.steps[-1].ok:
            return
        async for step in _connect(first_host, first_port, settings, context):
            report.steps.append(step)
            if not step.ok:
                return
    report.steps.append(await _post_empty(settings, transport))


async def _resolve(host: str, port: int, *, proxy: bool) -> Step:
    name = f"resolve {'the proxy ' if proxy else ''}{host}"
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        return Step(name, False, f"does not resolve ({error.strerror or error})", _DNS_FIX)
    addresses = sorted({str(info[4][0]) for info in found})
    return Step(name, True, ", ".join(addresses[:4]))


async def _connect(
    first_host: str, first_port: int, settings: PostSettings, context: ssl.SSLContext
) -> AsyncIterator[Step]:
    """Connect (to the proxy, then tunnel) and, for https, check the TLS certificate."""
    proxy = settings.proxy
    target = urlsplit(settings.endpoint)
    host, https = target.hostname or "", target.scheme == "https"
    port = target.port or (443 if https else 80)
    name = f"connect to {'the proxy ' if proxy else ''}{first_host}:{first_port}"
    try:
        async with asyncio.timeout(settings.timeout):
            reader, writer = await asyncio.open_connection(first_host, first_port)
    except (OSError, TimeoutError) as error:
        if isinstance(error, TimeoutError):
            detail = "no answer within the timeout"
        elif isinstance(error, ConnectionRefusedError):
            detail = "connection refused: nothing listens there"
        else:
            detail = f"failed ({error.strerror or error})"
        fix = (
            "check the proxy's address and port"
            if proxy
            else "check the endpoint URL and port, and that a firewall lets this machine out"
        )
        yield Step(name, False, detail, fix)
        return
    try:
        yield Step(name, True, "connected")
        if not https:
            return
        if proxy:
            problem = await _tunnel(reader, writer, proxy, host, port, settings.timeout)
            yield Step(
                f"tunnel to {host}:{port} through the proxy (CONNECT)",
                not problem,
                problem or "open",
                "check the proxy's credentials (http://user:password@proxy:port) and that it "
                "allows this host"
                if problem
                else "",
            )
            if problem:
                return
        yield await _tls(reader, writer, context, host, port, settings.timeout)
    finally:
        writer.close()


async def _tunnel(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    proxy: str,
    host: str,
    port: int,
    timeout: float,
) -> str:
    """Open a CONNECT tunnel; the problem, or "" when the proxy agreed."""
    parts = urlsplit(proxy)
    lines = [f"CONNECT {host}:{port} HTTP/1.1", f"Host: {host}:{port}"]
    if parts.username:
        secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        lines.append(f"Proxy-Authorization: Basic {base64.b64encode(secret.encode()).decode()}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        async with asyncio.timeout(timeout):
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return "the proxy closed the connection or did not answer CONNECT"
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or fields[1] != "200":
        return f"the proxy answered CONNECT with {status_line!r}"
    return ""


async def _tls(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    context: ssl.SSLContext,
    host: str,
    port: int,
    timeout: float,
) -> Step:
    name = f"TLS with {host}:{port}"
    try:
        async with asyncio.timeout(timeout):
            await writer.start_tls(context, server_hostname=host)
    except ssl.SSLCertVerificationError as error:
        return Step(
            name,
            False,
            f"the certificate is not trusted: {error.verify_message or error}",
            "if your network inspects HTTPS, give its CA certificate with --ca-bundle FILE "
            "(or SSL_CERT_FILE); otherwise check the endpoint URL",
        )
    except (ssl.SSLError, OSError, TimeoutError) as error:
        return Step(
            name, False, f"TLS failed ({error})", "is it an https server? check the endpoint URL"
        )
    certificate = writer.get_extra_info("peercert") or {}
    issuer = dict(pair[0] for pair in certificate.get("issuer", ()) if pair)
    by = issuer.get("organizationName") or issuer.get("commonName") or "a trusted CA"
    return Step(name, True, f"certificate verified (issued by {by})")


async def _post_empty(settings: PostSettings, transport: httpx.AsyncBaseTransport | None) -> Step:
    """POST `{}`: Captorra refuses it without creating anything."""
    name = "post {} (creates nothing)"
    try:
        async with make_client(settings, transport) as client:
            async with asyncio.timeout(settings.timeout):
                response = await client.post(b"{}")
            answer = interpret(response, settings.endpoint)
    except SEND_FAILURES as error:
        answer = interpret_failure(error, settings.endpoint)
    if answer.kind == "rejected":
        expected = answer.error == ApiError.MISSING_CAPTORRA_ID
        detail = f"answered like Captorra: {answer.error!r}" + (
            "" if expected else f" (Captorra says {ApiError.MISSING_CAPTORRA_ID!r})"
        )
        return Step(name, True, detail)
    if answer.kind == "posted":
        return Step(
            name,
            False,
            "answered success to an empty lead: Captorra never does",
            "check the endpoint URL (--endpoint / CAPTORRA_ENDPOINT)",
        )
    fix = {
        "unconfirmed": "this endpoint does not answer like Captorra: check the endpoint URL "
        "(--endpoint / CAPTORRA_ENDPOINT)",
        "misconfigured": "",  # the error says what to do
        "transient": "Captorra or the network may be down: try again later",
    }[answer.kind]
    return Step(name, False, answer.error, fix)
