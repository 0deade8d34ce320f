"""A tiny HTTP proxy on 127.0.0.1 for the tests: plain forwarding and CONNECT tunnels.

It serves one request per connection for plain http (it answers with
`Connection: close`), tunnels bytes both ways after CONNECT, and records what
it was asked (`requests`: "CONNECT host:port" or "POST http://..."; `bodies`
of what it forwarded), so a test can prove traffic really went through it. It
refuses to reach anything but loopback: tests never send traffic beyond this
machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class LoopbackProxy:
    def __init__(self) -> None:
        self.requests: list[str] = []
        self.heads: list[bytes] = []  # each request's line and headers, as received
        self.bodies: list[bytes] = []  # of the requests forwarded in plain http
        self.url = ""
        self._handlers: set[asyncio.Task[None]] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.heads.append(head)
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            self.requests.append(f"{method} {target}")
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                await self._tunnel(reader, writer, host.strip("[]"), int(port))
            else:
                await self._forward(reader, writer, head, target)
        except (OSError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self._handlers.discard(task)

    async def _tunnel(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int
    ) -> None:
        if host not in _LOOPBACK:
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True
        )

    async def _forward(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        head: bytes,
        target: str,
    ) -> None:
        parts = urlsplit(target)
        if parts.hostname not in _LOOPBACK:
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        lines = head.decode("latin-1").split("\r\n")
        length = next(
            (
                int(line.split(":", 1)[1])
                for line in lines
                if line.lower().startswith("content-length:")
            ),
            0,
        )
        body = await reader.readexactly(length)
        self.bodies.append(body)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        method = lines[0].split(" ", 1)[0]
        kept = [
            line
            for line in lines[1:]
            if line and not line.lower().startswith(("connection:", "proxy-", "keep-alive:"))
        ]
        request = "\r\n".join([f"{method} {path} HTTP/1.1", *kept, "Connection: close", "", ""])
        upstream_reader, upstream_writer = await asyncio.open_connection(
            parts.hostname, parts.port or 80
        )
        try:
            upstream_writer.write(request.encode("latin-1") + body)
            await upstream_writer.drain()
            await _pipe(upstream_reader, writer)
        finally:
            upstream_writer.close()

    @contextlib.contextmanager
    def running(self) -> Iterator[LoopbackProxy]:
        """Serve on a free port of 127.0.0.1 in a background thread."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        stop: asyncio.Future[None] | None = None

        async def serve() -> None:
            nonlocal stop
            server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            stop = loop.create_future()
            ready.set()
            async with server:
                await stop
                # A client may keep a connection open: end its handler before the loop closes.
                for handler in list(self._handlers):
                    handler.cancel()
                await asyncio.gather(*self._handlers, return_exceptions=True)
                await asyncio.sleep(0)  # their sockets close on the next turn of the loop

        thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
        thread.start()
        ready.wait(10)
        try:
            yield self
        finally:
            assert stop is not None
            loop.call_soon_threadsafe(stop.set_result, None)
            thread.join(10)
            loop.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
