"""Who may talk to the page: this computer's browser, holding the token made at launch.

The server listens on 127.0.0.1 only, and every request must also:
- name this server in its Host header (`127.0.0.1:PORT` or `localhost:PORT`), so a
  web site whose name is made to point at 127.0.0.1 (DNS rebinding) is refused;
- carry the key made at launch, in an HttpOnly, SameSite=Strict cookie. The key
  itself is never in an address: the address printed and opened holds a one-time
  code, swapped once for the cookie and useless afterwards, so the process list
  (a browser started with the address) and the browser's history hold nothing
  that opens the page;
- if it changes anything (POST), come from the page itself (Origin and
  Sec-Fetch-Site), so another site, or another local server, cannot submit forms.
Every answer forbids framing, sniffing, referrers, caching and any asset from
elsewhere (Content-Security-Policy).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CODE_PARAMETER = "code"
_SAFE_METHODS = frozenset({"GET", "HEAD"})
_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Not no-referrer: Chromium then sends `Origin: null` with the page's own forms.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class OneTimeCodes:
    """Codes that each open the page once (then set the cookie); safe from several threads."""

    def __init__(self) -> None:
        self._codes: set[str] = set()
        self._lock = threading.Lock()

    def issue(self) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes.add(code)
        return code

    def redeem(self, code: str) -> bool:
        """Whether `code` was issued and not used yet; it is used up either way."""
        with self._lock:
            if code in self._codes:
                self._codes.discard(code)
                return True
        return False


def cookie_name(port: int) -> str:
    # Cookies ignore the port: two servers on one machine need two names.
    return f"captorra_ui_{port}"


class Guard:
    """ASGI middleware enforcing the module docstring's rules."""

    def __init__(self, app: ASGIApp, *, token: str, port: int, codes: OneTimeCodes) -> None:
        self.app = app
        self.token = token
        self.codes = codes
        self.cookie = cookie_name(port)
        self.hosts = frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})
        self.origins = frozenset(f"http://{host}" for host in self.hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if request.method in _SAFE_METHODS and CODE_PARAMETER in request.query_params:
            swapped = self._swap_code(request)
            if swapped is not None:
                await self._with_headers(swapped)(scope, receive, send)
                return
        refusal = self._refusal(request)
        if refusal is not None:
            await self._with_headers(refusal)(scope, receive, send)
            return
        if CODE_PARAMETER in request.query_params or request.url.path.startswith("//"):
            # A used code (with the cookie): drop it. `//x` is made a path on this site.
            await self._with_headers(_without_code(request))(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, request: Request) -> Response | None:
        if request.headers.get("host", "") not in self.hosts:
            return _refused(
                400, "This page answers only at the address captorra-import ui printed."
            )
        given = request.cookies.get(self.cookie, "")
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            return _refused(
                403,
                "Open the page with the link captorra-import ui printed when it started. "
                "Each link opens the page once, in one browser: if it was used already, stop "
                "captorra-import ui (Ctrl-C) and start it again for a new one.",
            )
        fetch_site = request.headers.get("sec-fetch-site", "same-origin")
        navigating = request.headers.get("sec-fetch-mode", "navigate") == "navigate"
        if request.method in _SAFE_METHODS:
            if fetch_site not in ("same-origin", "none") and not navigating:
                return _refused(403, "Requests from other sites are refused.")
            return None
        origin = request.headers.get("origin")
        if (origin is not None and origin not in self.origins) or fetch_site not in (
            "same-origin",
            "none",
        ):
            return _refused(403, "Requests from other sites are refused.")
        return None

    def _swap_code(self, request: Request) -> Response | None:
        """A valid one-time code from this computer's browser: set the cookie, drop the code."""
        if request.headers.get("host", "") not in self.hosts:
            return None
        if not self.codes.redeem(request.query_params[CODE_PARAMETER]):
            return None
        response = _without_code(request)
        response.set_cookie(self.cookie, self.token, httponly=True, samesite="strict", path="/")
        return response

    @staticmethod
    def _with_headers(response: Response) -> Response:
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def _without_code(request: Request) -> Response:
    """The same address without the code (and never `//host`: that would leave the site)."""
    query = [(k, v) for k, v in parse_qsl(request.url.query) if k != CODE_PARAMETER]
    target = local_path(request.url.path) + (f"?{urlencode(query)}" if query else "")
    return RedirectResponse(target, status_code=303)


def local_path(path: str) -> str:
    """A path on this site: `//host/x` or `/\\host` would be read by a browser as another site."""
    return "/" + path.replace("\\", "/").lstrip("/")


def _refused(status: int, text: str) -> Response:
    return PlainTextResponse(text, status_code=status)
