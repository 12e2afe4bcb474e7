"""The lock on `crm serve`: it answers only to its own Host and Origin, and only with this run's token.

Without it, any web page the user visits (or a DNS-rebinding name pointing at 127.0.0.1) could open
the app's WebSocket and drive the CRM as the user who started `crm serve`, and so could any other
account on a shared host, where 127.0.0.1 is everyone's. The token works as Jupyter's does: it is
printed as part of the address, traded on the first load for an HttpOnly, SameSite=Strict cookie,
and compared in constant time. SameSite alone is not enough (every port of 127.0.0.1 is the same
site), so the Origin is checked too.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import socket
from dataclasses import dataclass
from typing import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import hdrs, web
from rich.logging import RichHandler
from textual_serve.server import Server

from crm_tui.cli.params import is_loopback

TOKEN_PARAM = "token"
DEFAULT_PORTS = {"http": 80, "https": 443}
WILDCARD_HOSTS = {"", "0.0.0.0", "::"}
TOKEN_IN_TEXT = re.compile(rf"({TOKEN_PARAM}=)[^&\s\"']*")
SURVEY_IN_TEXT = re.compile(r"(/survey/)[^/?&\s\"']+")  # a customer's survey link is a key too

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _netloc(host: str, port: int, scheme: str) -> list[str]:
    """The Host header values a browser sends for host:port: with the port, and without it when
    the port is the scheme's default."""
    name = f"[{host}]" if ":" in host else host  # IPv6 literals are bracketed
    return [f"{name}:{port}"] + ([name] if DEFAULT_PORTS.get(scheme) == port else [])


def _origin(host: str, port: int, scheme: str) -> str:
    return f"{scheme}://{_netloc(host, port, scheme)[-1]}"


@dataclass(frozen=True)
class Guard:
    """What `crm serve` accepts: Host values, Origins, and the token (in the query or the cookie)."""

    token: str
    public_url: str  # the address browsers use, without a trailing slash
    canonical: frozenset[str]  # Host values of the public URL and of the bound address
    hosts: frozenset[str]  # canonical, plus loopback (and, for a wildcard bind, this machine's) names
    origins: frozenset[str]
    cookie: str
    secure: bool
    # routes anyone may open without the token (by name: `crm serve`'s survey pages, cli/survey_web.py)
    open_routes: frozenset[str] = frozenset()

    @classmethod
    def for_address(cls, *, host: str, port: int, public_url: str, token: str | None = None) -> Guard:
        public = urlsplit(public_url)
        scheme = public.scheme or "http"
        public_port = public.port or DEFAULT_PORTS.get(scheme, port)
        named = [(scheme, (public.hostname or host).lower(), public_port)]
        if host not in WILDCARD_HOSTS:
            named.append(("http", host.lower(), port))
        canonical = {value for s, h, p in named for value in _netloc(h, p, s)}
        if host in WILDCARD_HOSTS:  # every address of this machine: its names as well as loopback
            named += [("http", name.lower(), port)
                      for name in ("127.0.0.1", "::1", socket.gethostname(), socket.getfqdn())]
        if host in WILDCARD_HOSTS or is_loopback(host):
            named += [("http", "localhost", port), ("http", host.lower(), port)]
        if is_loopback(named[0][1]):  # a forwarded local port (ssh -L 9000:...): localhost:9000 too
            named.append((scheme, "localhost", public_port))
        return cls(
            token=token or secrets.token_urlsafe(32),
            public_url=public_url.rstrip("/"),
            canonical=frozenset(canonical),
            hosts=frozenset(value for s, h, p in named for value in _netloc(h, p, s)),
            origins=frozenset(_origin(h, p, s) for s, h, p in named),
            cookie=f"crm-serve-{port}",  # cookies ignore ports: one name per serve on this host
            secure=scheme == "https",
        )

    @property
    def url(self) -> str:
        """The address to open, key included."""
        return f"{self.public_url}/?{TOKEN_PARAM}={self.token}"

    def matches(self, given: str) -> bool:
        """Constant time, and bytes: compare_digest refuses non-ASCII str rather than saying no."""
        return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), self.token.encode())

    def refusal(self, request: web.BaseRequest) -> str | None:
        """Why this request is refused, or None. Host first: a rebinding name is refused even with
        the right token; then the Origin, which browsers always send on a WebSocket."""
        if request.headers.get(hdrs.HOST, "").lower() not in self.hosts:
            return "this server answers only to the address crm serve printed (Host header refused)"
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and origin.lower() not in self.origins:
            return "requests from another site are refused (Origin header refused)"
        given = request.query.get(TOKEN_PARAM)
        if given is not None:
            return None if self.matches(given) else "wrong token: open the address crm serve printed"
        cookie = request.cookies.get(self.cookie)
        if cookie is not None and self.matches(cookie):
            return None
        return "no token: open the address crm serve printed, with its ?token="

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = getattr(request.match_info, "route", None)
        if route is not None and route.name is not None and route.name in self.open_routes:
            return await handler(request)  # matched by the router itself: no path trick reaches another route
        reason = self.refusal(request)
        if reason is not None:
            return web.Response(status=403, text=f"403 forbidden: {reason}\n",
                                headers={hdrs.CACHE_CONTROL: "no-store"})
        page_load = request.method in ("GET", "HEAD") and \
            request.headers.get(hdrs.UPGRADE, "").lower() != "websocket"
        host_known = request.headers[hdrs.HOST].lower() in self.canonical
        if page_load and (TOKEN_PARAM in request.query or not host_known):
            return self._redirect(request, host_known=host_known)
        return await handler(request)

    def _redirect(self, request: web.Request, *, host_known: bool) -> web.Response:
        """To the public address: on it, trade the token for the cookie and drop it from the
        address bar; from another name of this server (localhost for 127.0.0.1), keep the token,
        since the cookie must be set on the host the page's WebSocket connects to."""
        target = request.rel_url.without_query_params(TOKEN_PARAM) if host_known else request.rel_url
        response = web.Response(status=303, headers={hdrs.LOCATION: f"{self.public_url}{target}",
                                                     hdrs.CACHE_CONTROL: "no-store"})
        if host_known and TOKEN_PARAM in request.query:
            response.set_cookie(self.cookie, self.token, path="/", httponly=True, samesite="Strict",
                                secure=self.secure or None)
        return response


class HideToken(logging.Filter):
    """Keeps the token out of log lines (aiohttp's access log prints each request line)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def _clean(self, text: str) -> str:
        return SURVEY_IN_TEXT.sub(r"\1…", TOKEN_IN_TEXT.sub(r"\1…", text.replace(self.token, "…")))

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self._clean(record.getMessage()), None
        for key, value in list(vars(record).items()):  # the access log's `extra` fields too
            if isinstance(value, str) and (self.token in value or f"{TOKEN_PARAM}=" in value or "/survey/" in value):
                setattr(record, key, self._clean(value))
        return True


class GuardedServer(Server):
    """textual-serve's Server with the Guard in front of every route (page, WebSocket, static
    files, downloads). It adds the middleware to the app that Server._make_app builds; textual-serve
    has no public hook for that, so on_startup refuses to serve if the middleware is missing."""

    def __init__(self, command: str, *, survey_pages=None, **kwargs) -> None:
        super().__init__(command, **kwargs)
        self.survey_pages = survey_pages  # cli/survey_web.SurveyPages, or None
        guard = Guard.for_address(host=self.host, port=self.port, public_url=self.public_url)
        if survey_pages is not None:
            from dataclasses import replace

            from crm_tui.cli.survey_web import ROUTES

            guard = replace(guard, open_routes=ROUTES)
        self.guard = guard

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        if self.survey_pages is not None:
            self.survey_pages.add_routes(app)
        app.middlewares.append(self.guard.middleware)
        return app

    def initialize_logging(self) -> None:
        # the CLI keeps libraries' logs off the terminal with a NullHandler on the root logger
        # (output.quiet_library_logs); serve's own log is wanted, and basicConfig adds nothing
        # while the root has a handler
        root = logging.getLogger()
        for handler in [h for h in root.handlers if isinstance(h, logging.NullHandler)]:
            root.removeHandler(handler)
        super().initialize_logging()
        for handler in logging.getLogger().handlers:
            handler.addFilter(HideToken(self.guard.token))
            if isinstance(handler, RichHandler):  # a traceback's locals could hold the cookie
                handler.tracebacks_show_locals = False

    async def on_startup(self, app: web.Application) -> None:
        if self.guard.middleware not in app.middlewares:  # fail closed if textual-serve changes
            raise RuntimeError("crm serve: the token check is not installed; refusing to serve")
        self.console.print(f"crm serve: open {self.guard.url}", soft_wrap=True, markup=False,
                           highlight=False)
        self.console.print("The address holds this run's key: anyone with it works as you. "
                           "Press Ctrl+C to stop.", soft_wrap=True, markup=False, highlight=False)
