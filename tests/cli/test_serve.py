"""`crm serve` in a real headless Chromium: the browser opens the address `crm serve` printed (its
token included), the page connects its websocket, the served app draws the contacts screen as the
user resolved by the usual identity rules, and a screenshot of it is not blank. Chromium is driven
over the DevTools protocol (aiohttp comes with textual-serve), because xterm.js draws on a canvas:
the terminal's text is in the websocket frames the page receives, not in its DOM."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest

from crm_tui.cli.serve import served_command
from crm_tui.db import open_database
from crm_tui.services import contacts, users

pytestmark = pytest.mark.slow

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
NAMES = ("Zelda Quartermain", "Yusuf Brightwater")
LOGIN = "quinn"
ANSI = re.compile(r"\x1b\[[0-9;?$<>=]*[ -/]*[@-~]")
DEADLINE_S = 40  # an upper bound for a loaded machine; the run itself takes a few seconds


def _chromium() -> str | None:
    if found := os.environ.get("CRM_CHROMIUM"):
        return found
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed(path: Path, template: Path, now) -> str:
    shutil.copy(template, path)
    url = f"sqlite:///{path}"
    db = open_database(url)
    try:
        with db.write() as session:
            actor = users.actor_for(session, login=LOGIN, now=now)
            for name in NAMES:
                first, last = name.split()
                contacts.create_contact(session, data={"first_name": first, "last_name": last}, actor=actor, now=now)
    finally:
        db.dispose()
    return url


TOKENED_URL = re.compile(r"open (http://\S+/\?token=\S+)")


class Served:
    """A running `crm serve`: its process, the address it printed (token included), and every line
    it has printed so far (a thread keeps reading, so its log never fills the pipe)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self.lines, self.url = proc, [], None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            if self.url is None and (found := TOKENED_URL.search(line)):
                self.url = found.group(1)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def token(self) -> str:
        return self.url.split("?token=", 1)[1]

    @property
    def base(self) -> str:
        """The address without the token, e.g. http://127.0.0.1:8000"""
        return self.url.split("/?token=", 1)[0]


def start_serve(db_url: str, port: int) -> Served:
    """`crm serve` on a loopback port, as a subprocess in its own process group; returns once it
    has printed its address and listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "crm_tui", "--db", db_url, "--user", LOGIN, "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "COLUMNS": "400"},  # one log line per request (the app gets its own size)
    )
    served = Served(proc)
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            time.sleep(0.2)  # let the reader take the last lines
            raise AssertionError(f"crm serve exited with {proc.returncode}: {served.output}")
        if served.url is not None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return served
            except OSError:
                pass
        time.sleep(0.05)
    _stop(proc)
    raise AssertionError(f"crm serve did not print its address and listen: {served.output}")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group (the server and the app processes it started), then SIGKILL."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


# --- a PNG decoder just big enough to tell a blank screenshot from a drawn one -------------------


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of raw RGB(A) bytes) of an 8-bit, non-interlaced RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unexpected PNG format {header}"
    bpp = 3 if colour == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def colours(data: bytes) -> int:
    width, _, rows = png_pixels(data)
    bpp = len(rows[0]) // width
    return len({row[i:i + 3] for row in rows for i in range(0, len(row), bpp)})


def test_png_colours_tells_blank_from_drawn():
    """The check below can fail: a one-colour PNG counts 1, a two-colour one 2."""

    def png(rows: list[bytes], width: int) -> bytes:
        def chunk(kind, body):
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

        raw = b"".join(b"\x01" + bytes(r) for r in rows)  # Sub filter, to exercise unfiltering
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, len(rows), 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

    blank = [bytes([12, 24, 31, 0, 0, 0]) for _ in range(3)]  # 2 px: (12,24,31) then "same again"
    drawn = [bytes([12, 24, 31, 0, 0, 0]), bytes([12, 24, 31, 200, 200, 200])]
    assert colours(png(blank, 2)) == 1
    assert colours(png(drawn, 2)) == 2


# --- the browser ---------------------------------------------------------------------------------


class DevTools:
    """One page of a headless Chromium over the DevTools protocol."""

    def __init__(self, ws) -> None:
        self.ws, self._id, self.frames = ws, 0, []
        self._replies: dict[int, asyncio.Future] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            event = json.loads(message.data)
            if "id" in event and (future := self._replies.pop(event["id"], None)):
                future.set_result(event)
            elif event.get("method") == "Network.webSocketFrameReceived":
                response = event["params"]["response"]
                payload = response["payloadData"]
                # binary frames (textual-serve's terminal packets) arrive base64-encoded
                self.frames.append(base64.b64decode(payload) if response["opcode"] == 2 else payload.encode())

    async def call(self, method: str, **params):
        self._id += 1
        future = asyncio.get_running_loop().create_future()
        self._replies[self._id] = future
        await self.ws.send_json({"id": self._id, "method": method, "params": params})
        reply = await asyncio.wait_for(future, DEADLINE_S)
        assert "error" not in reply, f"{method}: {reply['error']}"
        return reply["result"]

    async def evaluate(self, expression: str):
        return (await self.call("Runtime.evaluate", expression=expression, returnByValue=True))["result"].get("value")

    def received(self) -> str:
        """What the page was sent, without the terminal's escape sequences."""
        return ANSI.sub("", b"".join(self.frames).decode("utf-8", "replace"))

    async def until(self, what: str, check) -> None:
        """Poll `check` (a coroutine function) until it is true; fail naming `what` at the deadline."""
        deadline = time.monotonic() + DEADLINE_S
        while not await check():
            assert time.monotonic() < deadline, f"timed out waiting for {what}; received: {self.received()[-600:]!r}"
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        self._reader.cancel()
        await self.ws.close()


async def _open_page(session, chromium_dir: Path) -> DevTools:
    port_file = chromium_dir / "DevToolsActivePort"
    deadline = time.monotonic() + DEADLINE_S
    while not (port_file.exists() and port_file.read_text().strip()):
        assert time.monotonic() < deadline, "Chromium did not open its DevTools port"
        await asyncio.sleep(0.05)
    port = port_file.read_text().split()[0]
    async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
        targets = await response.json(content_type=None)
    page = next(t for t in targets if t["type"] == "page")
    ws = await session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
    return DevTools(ws)


def start_chromium(profile: Path, *flags: str) -> subprocess.Popen:
    """A headless Chromium with its DevTools port open, or a skip that says why there is none."""
    binary = _chromium()
    if binary is None:
        pytest.skip("no Chromium binary found (apt-get install chromium, or set CRM_CHROMIUM); .ci/run installs it")
    return subprocess.Popen(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--mute-audio",
         f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1100,760", *flags,
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


@pytest.fixture
def chromium(tmp_path):
    """A headless Chromium (started first: it boots while crm serve does); yields its profile folder."""
    profile = tmp_path / "chromium"
    browser = start_chromium(profile)
    try:
        yield profile
    finally:
        _stop(browser)


@pytest.fixture
def served(tmp_path, sqlite_template, now):
    """`crm serve` on a free loopback port; yields the address it printed, token included."""
    server = start_serve(_seed(tmp_path / "crm.db", sqlite_template, now), _free_port())
    try:
        yield server.url
    finally:
        _stop(server.proc)


async def test_serve_renders_the_contacts_screen_in_chromium(chromium, served, tmp_path):
    import aiohttp

    async with aiohttp.ClientSession() as session:
        page = await _open_page(session, chromium)
        try:
            await page.call("Network.enable")
            await page.call("Page.enable")
            await page.call("Page.navigate", url=served)

            async def drawn() -> bool:  # the rows come first, the list's count in a later frame
                text = page.received()
                return all(part in text for part in (*NAMES, LOGIN, "1 Contacts", "Contacts · 2"))

            await page.until("the contacts screen in the websocket frames", drawn)
            text = page.received()
            assert "1 Contacts" in text and "Contacts · 2" in text, f"not the contacts screen: {text!r}"

            async def shown() -> bool:
                # the page drops its intro dialog on the first bytes and fades the terminal in
                return await page.evaluate(
                    "document.body.classList.contains('-first-byte') && "
                    "getComputedStyle(document.querySelector('.textual-terminal')).opacity === '1' && "
                    "getComputedStyle(document.querySelector('.intro-dialog')).display === 'none'")

            await page.until("the terminal to show", shown)
            shot = await page.call("Page.captureScreenshot", format="png",
                                   clip={"x": 0, "y": 0, "width": 1100, "height": 760, "scale": 0.25})
            png = base64.b64decode(shot["data"])
            (tmp_path / "serve.png").write_bytes(png)
            assert colours(png) > 8, f"the screenshot is blank: see {tmp_path / 'serve.png'}"
        finally:
            await page.close()


def test_served_command_runs_this_crm_as_the_resolved_user():
    command = served_command(login="o'brien")
    assert command.startswith(sys.executable) and "-m crm_tui --user 'o'\"'\"'brien'" in command
    assert "--db" not in command  # the URL (and any password in it) goes by environment


def test_serve_refuses_an_unknown_login_before_serving(tmp_path, sqlite_template, now):
    from typer.testing import CliRunner

    from crm_tui.cli.main import app

    url = _seed(tmp_path / "crm.db", sqlite_template, now)
    result = CliRunner().invoke(app, ["--db", url, "--user", "stranger", "serve", "--port", str(_free_port())])
    assert result.exit_code != 0
    assert "'stranger' is not a user of this CRM" in result.stderr and "crm user add" in result.stderr
