"""`crm serve`'s public survey pages: the one part of the server that needs no token. A customer's
link `/survey/<token>?score=N` records the answer (services/surveys.answer) and thanks them, with
a form for a comment; `/survey/<token>/unsubscribe` asks, and a POST unsubscribes. Nothing else is
reachable without the token: the Guard lets through only the routes named here (by route, not by
path prefix), and these pages show no record but the survey's own answer.

Each address may make RATE requests a minute; a POST body is at most MAX_BODY bytes of a plain form.
Database work runs in a thread, off the server's loop."""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

from aiohttp import hdrs, web

from crm_tui.clock import resolve_now
from crm_tui.config import Settings
from crm_tui.errors import CrmError, InvalidInput

log = logging.getLogger(__name__)

ROUTES = frozenset({"survey-answer", "survey-post", "survey-unsubscribe", "survey-unsubscribe-post"})
RATE = 30  # requests a minute from one address
RATE_ALL = 600  # and from everyone together
MAX_BODY = 8 * 1024
HEADERS = {
    hdrs.CACHE_CONTROL: "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",  # the token is in the address
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
STATUS = {"forged": 404, "used": 409, "expired": 410, "off": 503}
TITLES = {"forged": "This survey link is not valid", "used": "Already answered",
          "expired": "This survey link has expired", "off": "Surveys are not available"}
STYLE = ("body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#222}"
         "button{font-size:1.1rem;margin:.15rem;padding:.4rem .8rem}textarea{width:100%;height:6rem}"
         ".muted{color:#666}")


class RateLimit:
    """At most `per_address` requests a minute from one address, and `overall` from all."""

    def __init__(self, per_address: int = RATE, overall: int = RATE_ALL) -> None:
        self.per_address, self.overall = per_address, overall
        self.seen: dict[str, deque] = {}
        self.all: deque = deque()

    def allow(self, address: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if len(self.seen) > 10_000:  # forget the quiet ones rather than grow without end
            self.seen = {a: q for a, q in self.seen.items() if q and q[-1] > now - 60}
        hits = self.seen.setdefault(address, deque())
        for queue in (hits, self.all):
            while queue and queue[0] <= now - 60:
                queue.popleft()
        if len(hits) >= self.per_address or len(self.all) >= self.overall:
            return False
        hits.append(now)
        self.all.append(now)
        return True


def page(title: str, body: str, *, status: int = 200) -> web.Response:
    text = (f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
            f"content='width=device-width,initial-scale=1'><meta name=robots content=noindex>"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"{body}</body></html>")
    return web.Response(text=text, content_type="text/html", status=status, headers=HEADERS)


def _score_form(action: str, low: int, high: int) -> str:
    buttons = "".join(f"<button name=score value={n}>{n}</button>" for n in range(low, high + 1))
    return (f"<form method=post action='{html.escape(action)}'><p>{buttons}</p>"
            f"<p><label>A comment (optional)<br><textarea name=comment maxlength=2000></textarea></label></p></form>")


def _comment_form(action: str) -> str:
    return (f"<form method=post action='{html.escape(action)}'><p><label>Anything you would like to add?<br>"
            f"<textarea name=comment maxlength=2000></textarea></label></p><p><button>Send</button></p></form>")


class SurveyPages:
    """The handlers, over a database opened on first use in this process (crm serve's own is closed)."""

    def __init__(self, db_url: str, settings: Settings, *, limiter: RateLimit | None = None) -> None:
        from crm_tui.services.surveys import signing_key

        self.db_url, self.settings = db_url, settings
        self.key = signing_key(settings)  # read once: the keyring costs a tenth of a second a look
        self.limiter = limiter or RateLimit()
        self._db = None
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="crm-survey")

    def add_routes(self, app: web.Application) -> None:
        app.add_routes([
            web.get("/survey/{token}", self.get_answer, name="survey-answer", allow_head=False),
            web.post("/survey/{token}", self.post_answer, name="survey-post"),
            web.get("/survey/{token}/unsubscribe", self.get_unsubscribe, name="survey-unsubscribe",
                    allow_head=False),
            web.post("/survey/{token}/unsubscribe", self.post_unsubscribe, name="survey-unsubscribe-post"),
        ])
        app.on_cleanup.append(self._close)

    async def _close(self, _app: web.Application) -> None:
        self._pool.shutdown(wait=False)
        if self._db is not None:
            self._db.dispose()

    def _database(self):
        if self._db is None:
            from crm_tui.db import open_database

            self._db = open_database(self.db_url)
        return self._db

    async def _write(self, work):
        """work(session) in one write transaction, in a thread."""
        def run():
            with self._database().write() as session:
                return work(session)

        return await asyncio.get_running_loop().run_in_executor(self._pool, run)

    def _limited(self, request: web.Request) -> web.Response | None:
        if self.limiter.allow(request.remote or "?"):
            return None
        return page("Too many requests", "<p>Please wait a minute and try again.</p>", status=429)

    @staticmethod
    def _refused(exc: CrmError) -> web.Response:
        from crm_tui.services.surveys import SurveyLinkError

        if isinstance(exc, SurveyLinkError):
            return page(TITLES[exc.reason], f"<p>{html.escape(exc.message)}.</p>", status=STATUS[exc.reason])
        return page("That did not work", f"<p>{html.escape(exc.message)}.</p>", status=400)

    async def _form(self, request: web.Request) -> dict[str, str] | web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return page("Too long", "<p>That was more than this form takes.</p>", status=413)
        kind = request.headers.get(hdrs.CONTENT_TYPE, "").split(";")[0].strip().lower()
        if kind not in ("application/x-www-form-urlencoded", ""):
            return page("Not a form", "<p>Send the form on the survey page.</p>", status=415)
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return page("Too long", "<p>That was more than this form takes.</p>", status=413)
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10)
        except (UnicodeDecodeError, ValueError):
            return page("Not a form", "<p>Send the form on the survey page.</p>", status=400)
        return {k: v[0] for k, v in fields.items()}

    async def get_answer(self, request: web.Request) -> web.Response:
        """The link in the email: records the score it carries, thanks, and asks for a comment."""
        if (refused := self._limited(request)) is not None:
            return refused
        token = request.match_info["token"]
        score = request.query.get("score")
        if score is None:
            return await self._ask(token)
        return await self._answer(token, score, None)

    async def _ask(self, token: str) -> web.Response:
        from crm_tui.services import surveys

        try:
            survey = await self._write(lambda s: _fresh(surveys.peek(s, token, key=self.key)))
        except CrmError as exc:
            return self._refused(exc)
        low, high = survey
        return page("How did we do?", f"<p>Choose a number, from {low} (not at all) to {high} (very).</p>"
                                      + _score_form(f"/survey/{token}", low, high))

    async def _answer(self, token: str, score: str, comment: str | None) -> web.Response:
        from crm_tui.services import surveys

        def work(session):
            survey = surveys.answer(session, token, score, comment=comment, now=resolve_now(None),
                                    key=self.key)
            return survey.score, surveys.RANGES[survey.kind][1], survey.comment

        try:
            given, high, said = await self._write(work)
        except CrmError as exc:
            if isinstance(exc, InvalidInput) and not isinstance(exc, surveys.SurveyLinkError):
                return await self._ask_again(token, exc)
            return self._refused(exc)
        more = "<p>Thank you for your comment.</p>" if said else _comment_form(f"/survey/{token}")
        return page("Thank you!", f"<p>You gave us {given} out of {high}.</p>{more}")

    async def _ask_again(self, token: str, exc: CrmError) -> web.Response:
        response = await self._ask(token)
        if response.status != 200:
            return response
        return page("Please choose a score", f"<p>{html.escape(exc.message)}.</p>"
                    + response.text.split("</h1>", 1)[1].split("</body>")[0], status=400)

    async def post_answer(self, request: web.Request) -> web.Response:
        """The page's form: a score (and comment) not given yet, or the comment after the score."""
        if (refused := self._limited(request)) is not None:
            return refused
        from crm_tui.services import surveys

        form = await self._form(request)
        if isinstance(form, web.Response):
            return form
        token = request.match_info["token"]
        if form.get("score"):
            return await self._answer(token, form["score"], form.get("comment"))
        try:
            await self._write(lambda s: surveys.add_comment(s, token, form.get("comment", ""), now=resolve_now(None),
                                                            key=self.key))
        except CrmError as exc:
            return self._refused(exc)
        return page("Thank you!", "<p>We have your comment.</p>")

    async def get_unsubscribe(self, request: web.Request) -> web.Response:
        """Asks first: a mail scanner that opens every link must not unsubscribe anyone."""
        if (refused := self._limited(request)) is not None:
            return refused
        from crm_tui.services import surveys

        token = request.match_info["token"]
        try:
            await self._write(lambda s: surveys.peek(s, token, key=self.key).id)
        except CrmError as exc:
            return self._refused(exc)
        return page("Unsubscribe?", f"<p>Stop our survey and sequence emails to this address?</p>"
                                    f"<form method=post action='/survey/{html.escape(token)}/unsubscribe'>"
                                    f"<button>Unsubscribe</button></form>")

    async def post_unsubscribe(self, request: web.Request) -> web.Response:
        if (refused := self._limited(request)) is not None:
            return refused
        from crm_tui.services import surveys

        form = await self._form(request)
        if isinstance(form, web.Response):
            return form
        token = request.match_info["token"]
        try:
            await self._write(lambda s: surveys.unsubscribe(s, token, now=resolve_now(None),
                                                            key=self.key).id)
        except CrmError as exc:
            return self._refused(exc)
        return page("You are unsubscribed", "<p>We will not send you these emails again.</p>")


def _fresh(survey) -> tuple[int, int]:
    """The score range of a survey that may still be answered (SurveyLinkError otherwise)."""
    from crm_tui.services import surveys

    surveys.check_open(survey, resolve_now(None))
    return surveys.RANGES[survey.kind]
