"""`crm serve` against other web pages, other accounts and DNS rebinding (issue 16, item 5).

The real server runs as a subprocess on a free loopback port. Each row of REQUESTS is one raw
request (path, headers, WebSocket or not) and the answer it must get; a new attack is one more
row. Placeholders in a row: {token} (this run's), {port} (the server's), {cookie} (its cookie's
name), {other} (another loopback port, i.e. another site's page on this machine). Then a cookie
flow with aiohttp's client, the log, and a real headless Chromium."""

from __future__ import annotations

import asyncio
import http.client
import http.server
import re
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest

from crm_tui.cli.serve_guard import Guard, GuardedServer
from tests.cli.test_serve import (
    DEADLINE_S,
    DevTools,
    _free_port,
    _open_page,
    _seed,
    _stop,
    start_chromium,
    start_serve,
)
from tests.conftest import FROZEN_NOW

WS = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
SAME_ORIGIN = "http://127.0.0.1:{port}"
GOOD_HOST = "127.0.0.1:{port}"
COOKIE = "{cookie}={token}"
WS_REFUSED = re.compile(r'"GET /ws\?\S* HTTP/1\.1" 403')  # crm serve's access log


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    status: int
    headers: dict = field(default_factory=dict)  # Host is 127.0.0.1:{port} unless given; None: no Host
    websocket: bool = False
    says: str = ""  # in the body (403s say which check refused)
    location: str | None = None  # the redirect's target
    sets_cookie: bool = False
    http10: bool = False


REQUESTS = [
    # the token
    Case("page without a token", "/", 403, says="no token"),
    Case("page with a wrong token", "/?token=not-the-token", 403, says="wrong token"),
    Case("page with an empty token", "/?token=", 403, says="wrong token"),
    Case("page with a non-ASCII token", "/?token=%C3%A9t%C3%A9", 403, says="wrong token"),
    Case("page with the token plus one character", "/?token={token}x", 403, says="wrong token"),
    Case("page with the right token: cookie, and the token leaves the address", "/?token={token}&fontsize=18",
         303, location="http://127.0.0.1:{port}/?fontsize=18", sets_cookie=True),
    Case("page with the cookie alone", "/", 200, {"Cookie": COOKIE}, says="textual-terminal"),
    Case("page with a wrong cookie", "/", 403, {"Cookie": "{cookie}=guess"}, says="no token"),
    Case("page with another serve's cookie (cookies ignore ports)", "/", 403, {"Cookie": "crm-serve-1={token}"}),
    Case("a wrong token is not saved by a good cookie", "/?token=guess", 403, {"Cookie": COOKIE}),
    # every route, not just the page
    Case("static file without a token", "/static/js/textual.js", 403, says="no token"),
    Case("static file with the cookie", "/static/js/textual.js", 200, {"Cookie": COOKIE}),
    Case("download without a token", "/download/anything", 403, says="no token"),
    Case("download with the cookie reaches the route", "/download/anything", 404, {"Cookie": COOKIE}),
    # the WebSocket, which runs the app
    Case("websocket without a token", "/ws", 403, {"Origin": SAME_ORIGIN}, websocket=True, says="no token"),
    Case("websocket with a wrong cookie", "/ws", 403, {"Origin": SAME_ORIGIN, "Cookie": "{cookie}=x"},
         websocket=True),
    Case("websocket with the cookie, same origin", "/ws", 101, {"Origin": SAME_ORIGIN, "Cookie": COOKIE},
         websocket=True),
    Case("websocket from another site", "/ws", 403, {"Origin": "http://evil.example", "Cookie": COOKIE},
         websocket=True, says="Origin"),
    Case("websocket from another port of 127.0.0.1 (same site)", "/ws", 403,
         {"Origin": "http://127.0.0.1:{other}", "Cookie": COOKIE}, websocket=True, says="Origin"),
    Case("websocket from another site even with the token", "/ws?token={token}", 403,
         {"Origin": "https://evil.example"}, websocket=True, says="Origin"),
    Case("websocket from a sandboxed or file page (Origin: null)", "/ws", 403,
         {"Origin": "null", "Cookie": COOKIE}, websocket=True, says="Origin"),
    Case("websocket from https on our host:port", "/ws", 403,
         {"Origin": "https://127.0.0.1:{port}", "Cookie": COOKIE}, websocket=True, says="Origin"),
    Case("page fetched by another site's script", "/", 403, {"Origin": "http://evil.example", "Cookie": COOKIE},
         says="Origin"),
    # the Host: DNS rebinding points a name the attacker owns at 127.0.0.1
    Case("rebinding name with the token", "/?token={token}", 403, {"Host": "evil.example:{port}"}, says="Host"),
    Case("rebinding name with the cookie", "/", 403, {"Host": "evil.example:{port}", "Cookie": COOKIE},
         says="Host"),
    Case("rebinding name on the websocket", "/ws", 403,
         {"Host": "evil.example:{port}", "Origin": "http://evil.example:{port}", "Cookie": COOKIE},
         websocket=True, says="Host"),
    Case("our address on another port", "/", 403, {"Host": "127.0.0.1:{other}", "Cookie": COOKIE}, says="Host"),
    Case("no Host header at all (HTTP/1.0)", "/", 403, {"Host": None, "Cookie": COOKIE}, says="Host", http10=True),
    Case("no Host header at all (HTTP/1.1: aiohttp refuses it first)", "/", 400, {"Host": None, "Cookie": COOKIE},
         says="Host"),
    # other names of this server send the browser to the printed one, token kept, so that the
    # cookie lands on the host the page's WebSocket connects to
    Case("localhost with the token", "/?token={token}", 303, {"Host": "localhost:{port}"},
         location="http://127.0.0.1:{port}/?token={token}"),
    Case("localhost websocket from the localhost page", "/ws", 101,
         {"Host": "localhost:{port}", "Origin": "http://localhost:{port}", "Cookie": COOKIE}, websocket=True),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory, sqlite_template):
    """One `crm serve` for the module (starting one takes a second or two)."""
    folder = tmp_path_factory.mktemp("serve")
    served = start_serve(_seed(folder / "crm.db", sqlite_template, FROZEN_NOW), _free_port())
    try:
        yield served
    finally:
        _stop(served.proc)


def _send(server, case: Case):
    port = int(server.base.rsplit(":", 1)[1])
    values = {"token": server.token, "port": port, "cookie": f"crm-serve-{port}", "other": port + 1}
    headers = {"Host": GOOD_HOST, **case.headers, **(WS if case.websocket else {})}
    headers = {k: v.format(**values) for k, v in headers.items() if v is not None}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE_S)
    if case.http10:
        conn._http_vsn_str = "HTTP/1.0"  # http.client's own switch; 1.0 may leave the Host out
    try:
        conn.putrequest("GET", case.path.format(**values), skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        body = b"" if response.status == 101 else response.read()
        return response, body.decode("utf-8", "replace"), values
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("case", REQUESTS, ids=[c.name for c in REQUESTS])
def test_serve_answers_only_its_own_page_with_its_token(server, case):
    response, body, values = _send(server, case)
    assert response.status == case.status, f"{case.name}: {response.status} {body[:300]!r}"
    assert case.says in body, f"{case.name}: {body[:300]!r}"
    if case.location is not None:
        assert response.getheader("Location") == case.location.format(**values)
    cookie = response.getheader("Set-Cookie")
    if case.sets_cookie:
        assert cookie is not None and cookie.startswith(f"{values['cookie']}={values['token']};")
        assert {"httponly", "samesite=strict", "path=/"} <= {part.strip().lower() for part in cookie.split(";")}
    else:
        assert cookie is None, f"{case.name}: a cookie was handed out: {cookie}"
    if response.status == 403:
        assert values["token"] not in body, "a refusal must not tell the token"


@pytest.mark.slow
async def test_the_token_becomes_a_cookie_and_the_cookie_alone_works(server):
    """As a browser does it: open the printed address, follow the redirect, keep the cookie."""
    import aiohttp

    jar = aiohttp.CookieJar(unsafe=True)  # unsafe: keep cookies for an IP address, as browsers do
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        async with session.get(server.url) as response:
            assert response.status == 200 and "textual-terminal" in await response.text()
            assert [r.status for r in response.history] == [303]
            assert "token" not in str(response.url)
            assert "Set-Cookie" in response.history[0].headers
        async with session.get(f"{server.base}/") as response:
            assert response.status == 200
        ws = await session.ws_connect(f"{server.base}/ws", origin=server.base)
        await ws.close()
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{server.base}/ws", origin="http://evil.example")
        assert refused.value.status == 403
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as stranger:
        async with stranger.get(f"{server.base}/") as response:
            assert response.status == 403


@pytest.mark.slow
def test_the_token_stays_out_of_the_log(server):
    case = Case("log me", "/?token={token}&marker=logged", 303)
    _send(server, case)
    deadline = time.monotonic() + DEADLINE_S
    while "marker=logged" not in server.output:  # the access log line of that request
        assert time.monotonic() < deadline, f"no access log line: {server.output[-800:]!r}"
        time.sleep(0.05)
    assert server.output.count(server.token) == 1, "the token is printed once, in the address, and nowhere else"
    assert "token=…&marker=logged" in server.output


# --- the Guard's addresses, without a server ------------------------------------------------------

ADDRESSES = [
    # (bound host, port, public URL, Host values accepted, Host values refused, Origins accepted)
    ("127.0.0.1", 8000, "http://127.0.0.1:8000", {"127.0.0.1:8000", "localhost:8000"},
     {"127.0.0.1", "127.0.0.1:8001", "evil.example:8000", "0.0.0.0:8000", "", "127.0.0.1:8000@evil"},
     {"http://127.0.0.1:8000", "http://localhost:8000"}),
    ("127.0.0.1", 80, "http://127.0.0.1", {"127.0.0.1", "127.0.0.1:80", "localhost"}, {"evil.example"},
     {"http://127.0.0.1", "http://localhost"}),
    ("127.0.0.1", 8000, "http://127.0.0.1:9000", {"127.0.0.1:9000", "localhost:9000", "127.0.0.1:8000"},
     {"evil.example:9000"}, {"http://127.0.0.1:9000", "http://localhost:9000"}),  # ssh -L 9000:127.0.0.1:8000
    ("0.0.0.0", 8000, "http://0.0.0.0:8000", {"127.0.0.1:8000", "localhost:8000", f"{socket.gethostname()}:8000"},
     {"evil.example:8000", "127.0.0.1:8001"}, {"http://localhost:8000"}),
    ("127.0.0.1", 8001, "https://crm.example.com", {"crm.example.com", "crm.example.com:443", "127.0.0.1:8001"},
     {"crm.example.com:8001", "evil.example"}, {"https://crm.example.com", "http://127.0.0.1:8001"}),
]


@pytest.mark.parametrize("bound, port, public, accepted, refused, origins", ADDRESSES)
def test_the_guard_knows_its_own_addresses(bound, port, public, accepted, refused, origins):
    guard = Guard.for_address(host=bound, port=port, public_url=public)
    assert accepted <= guard.hosts and not refused & guard.hosts
    assert origins <= guard.origins and "http://evil.example" not in guard.origins
    assert guard.url.startswith(f"{public}/?token=") and len(guard.token) >= 40
    assert guard.secure == public.startswith("https")


async def test_serve_refuses_to_start_without_the_guard():
    """If a textual-serve upgrade stopped calling _make_app, serving would be open again: fail closed."""
    from aiohttp import web

    server = GuardedServer("true", host="127.0.0.1", port=8000)
    with pytest.raises(RuntimeError, match="token check is not installed"):
        await server.on_startup(web.Application())
    app = await server._make_app()
    assert server.guard.middleware in app.middlewares


def test_each_serve_start_has_its_own_token():
    tokens = {Guard.for_address(host="127.0.0.1", port=8000, public_url="http://127.0.0.1:8000").token
              for _ in range(20)}
    assert len(tokens) == 20


def test_the_token_is_compared_as_bytes_in_constant_time():
    guard = Guard.for_address(host="127.0.0.1", port=8000, public_url="http://127.0.0.1:8000", token="s3cret")
    assert guard.matches("s3cret")
    for wrong in ("", "s3cre", "s3crett", "S3CRET", "s3crét", "\udcff"):  # non-ASCII must not raise
        assert not guard.matches(wrong)


# --- a real browser -------------------------------------------------------------------------------

FOREIGN_PAGE = """<!doctype html><title>waiting</title><script>
const ws = new WebSocket("ws://127.0.0.1:{port}/ws?token={token}&width=80&height=24");
ws.onopen = () => {{ document.title = "open"; }};
ws.onclose = (event) => {{ if (document.title !== "open") document.title = "refused " + event.code; }};
</script>"""


class _OnePage(http.server.BaseHTTPRequestHandler):
    page = b""

    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args):
        pass


@pytest.fixture
def foreign_site(server):
    """Another site on this machine (another port of 127.0.0.1), whose page opens a WebSocket to
    crm serve, even knowing the token."""
    port = int(server.base.rsplit(":", 1)[1])
    handler = type("Page", (_OnePage,), {"page": FOREIGN_PAGE.format(port=port, token=server.token).encode()})
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}/"
    finally:
        site.shutdown()
        site.server_close()


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium, where the name rebind.test resolves to 127.0.0.1 (a DNS rebinding)."""
    profile = tmp_path / "chromium"
    proc = start_chromium(profile, "--host-resolver-rules=MAP rebind.test 127.0.0.1")
    try:
        yield profile
    finally:
        _stop(proc)


async def _page(profile, work):
    import aiohttp

    async with aiohttp.ClientSession() as session:
        page: DevTools = await _open_page(session, profile)
        try:
            await page.call("Page.enable")
            await work(page)
        finally:
            await page.close()


async def _load(page: DevTools, url: str) -> None:
    """Navigate, and wait until the new document (not the old one) has loaded."""
    await page.evaluate("window.__left = true")

    async def loaded() -> bool:
        return await page.evaluate("!window.__left && document.readyState === 'complete'")

    await page.call("Page.navigate", url=url)
    await page.until(f"{url} to load", loaded)


def _ws_refusals(server) -> int:
    return len(WS_REFUSED.findall(server.output))


@pytest.mark.slow
async def test_chromium_opens_the_printed_address_and_a_foreign_page_is_refused(browser, server, foreign_site):
    async def work(page: DevTools) -> None:
        await _load(page, f"{server.base}/")  # no token, no cookie yet
        assert "no token" in await page.evaluate("document.body.innerText")

        await _load(page, server.url)
        assert await page.evaluate("location.href") == f"{server.base}/", "the token stays in the address bar"
        assert await page.evaluate("document.cookie") == "", "the cookie must be HttpOnly"

        async def connected() -> bool:  # the page's WebSocket opened and the app drew its first bytes
            return await page.evaluate("document.body.classList.contains('-first-byte')")

        await page.until("the app to draw in the page", connected)

        refused_before = _ws_refusals(server)
        await _load(page, foreign_site)  # the browser now holds the cookie, and the page the token

        async def settled() -> bool:
            return (await page.evaluate("document.title")) != "waiting"

        await page.until("the foreign page's WebSocket to settle", settled)
        assert (await page.evaluate("document.title")).startswith("refused"), "a foreign page drove the app"
        deadline = time.monotonic() + DEADLINE_S  # and it was crm serve that refused it
        while _ws_refusals(server) <= refused_before:
            assert time.monotonic() < deadline, f"crm serve did not log a refusal: {server.output[-800:]!r}"
            await asyncio.sleep(0.05)

        port = server.base.rsplit(":", 1)[1]
        await _load(page, f"http://rebind.test:{port}/?token={server.token}")
        assert "Host header refused" in await page.evaluate("document.body.innerText")

    await _page(browser, work)


BAD_PUBLIC_URLS = ["http://crm.example.com:abc", "http://crm.example.com:99999", "crm.example.com",
                   "ftp://crm.example.com", "http://:8000", "javascript:alert(1)", "https://crm.example.com/?x=1"]


@pytest.mark.parametrize("public_url", BAD_PUBLIC_URLS)
def test_serve_refuses_a_bad_public_url_in_one_line(public_url, tmp_path, sqlite_template, monkeypatch):
    from typer.testing import CliRunner

    from crm_tui.cli.main import app

    monkeypatch.setattr(GuardedServer, "serve", lambda self: None)  # never listen, even if it is let through
    url = _seed(tmp_path / "crm.db", sqlite_template, FROZEN_NOW)
    result = CliRunner().invoke(app, ["--db", url, "--user", "quinn", "serve", "--port", str(_free_port()),
                                      "--public-url", public_url])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: --public-url must be an http:// or https:// address")
    assert len(result.stderr.strip().splitlines()) == 1
