"""``simkit serve``'s web server (tornado): requests in, :class:`ServeSession` calls out.

Routes (every one under a token; the server answers 404 to anything else)::

    s/SESSION/                      the participant's page
    s/SESSION/api/join|resume|answer  POST JSON: register, pick up again, save one answer
    s/SESSION/img/QUESTION/LETTER   an image of a question, as PNG
    t/TEACHER/                      the teacher's page
    t/TEACHER/api/progress          GET: participants, answers, answers per question
    t/TEACHER/api/close             POST: close the session
    t/TEACHER/qr.svg?url=LINK       the QR code of the participants' link

The store is written from one thread (the event loop never waits for the disk); answers
that arrive while it is writing are saved together in the next transaction (group commit:
one disk sync for many answers), and each request is confirmed only once its answer is on
disk. Images are drawn on two other threads. A refused request gets its status
(400 malformed, 403 another participant's or an unknown code, 404 unknown link or question,
410 closed session, 413 body too large, 503 store busy: retry) and a JSON body
``{"error": DETAIL, "key": CATALOGUE_KEY}``; it writes nothing.
"""
from __future__ import annotations

import asyncio
import json
import secrets
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable
from urllib.parse import urlsplit

from simkit.serve.pages import (message_page, participant_page, qr_svg, security_headers,
                                teacher_page)
from simkit.serve.session import Refused, ServeSession
from simkit.study.model import LETTERS

__all__ = ["make_app", "run", "MAX_BODY", "listen", "GroupCommit"]

#: The largest request body read at all (bytes); larger ones are cut off by tornado.
MAX_CONNECTION_BODY = 1 << 20
#: The largest answer or registration accepted (bytes): real ones are ~200 bytes.
MAX_BODY = 8 * 1024


def make_app(session: ServeSession, *, image_px: int = 480) -> Any:
    """The tornado application serving ``session``; ``app.simkit_threads`` are its
    thread pools (shut them down after the server stops)."""
    import tornado.web

    store_thread = ThreadPoolExecutor(1, thread_name_prefix="simkit-store")
    image_threads = ThreadPoolExecutor(2, thread_name_prefix="simkit-images")
    base = _base_handler(store_thread)

    class Slash(base):
        def get(self, kind: str, token: str) -> None:
            # ".../s/TOKEN" → ".../s/TOKEN/": a relative Location, right behind any proxy
            self.redirect(f"{token}/")

    class NoIcon(base):
        def get(self) -> None:
            self.set_status(204)  # browsers ask for one: an empty answer, not a 404 logged

    class NotFound(base):
        def prepare(self) -> None:
            self.refuse(Refused(404, "error_bad_link", "unknown address"))

    app = tornado.web.Application([
        (r"/(s|t)/([^/]+)", Slash),
        *_participant_routes(base, session, store_thread, image_threads, image_px),
        *_teacher_routes(base, session),
        (r"/favicon\.ico", NoIcon),
        (r"/.*", NotFound),
    ], compress_response=True)
    app.simkit_threads = (store_thread, image_threads)
    return app


class GroupCommit:
    """Answers that arrive while the store is busy are written together, in one
    transaction, as soon as it is free: one disk sync for many answers (group commit).

    ``write(items)`` runs on ``executor`` and returns one result per item; each
    :meth:`submit` resolves when its own item is on disk (or raises what the write raised).
    """

    def __init__(self, write: Callable[[list], list], executor: ThreadPoolExecutor) -> None:
        self._write, self._executor = write, executor
        self._queue: list[tuple[Any, asyncio.Future]] = []
        self._draining = False

    async def submit(self, item: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if not self._draining:
            self._draining = True
            asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    results = await loop.run_in_executor(
                        self._executor, self._write, [item for item, _ in batch])
                except Exception as e:  # noqa: BLE001 - every waiting request gets it
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(e)
                else:
                    for (_, future), result in zip(batch, results):
                        if not future.done():
                            future.set_result(result)
        finally:
            self._draining = False


def _base_handler(store_thread: ThreadPoolExecutor) -> type:
    """The handlers' base: security headers, refusals as JSON, the store's thread."""
    import tornado.web

    class Base(tornado.web.RequestHandler):
        def set_default_headers(self) -> None:
            self.nonce = secrets.token_urlsafe(12)
            for k, v in security_headers(self.nonce).items():
                self.set_header(k, v)

        def refuse(self, r: Refused) -> None:
            self.set_status(r.status)
            if r.status == 503:
                self.set_header("Retry-After", "1")
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(json.dumps({"error": r.detail, "key": r.key}))

        def write_error(self, status_code: int, **kwargs: Any) -> None:
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(json.dumps({"error": self._reason, "key": "error_server"}))

        async def in_store(self, fn: Callable[[], Any]) -> Any:
            return await asyncio.get_running_loop().run_in_executor(store_thread, fn)

    return Base


def _participant_routes(base: type, session: ServeSession, store_thread: ThreadPoolExecutor,
                        image_threads: ThreadPoolExecutor, image_px: int) -> list[tuple]:
    """The participant's page, its API and its images."""

    answers = GroupCommit(session.save_answers, store_thread)

    class Participant(base):
        def get(self, token: str) -> None:
            try:
                session.check_token(token)
            except Refused:
                t = session.texts[session.language]
                self.set_status(404)
                return self.finish(message_page(t["title"], t["error_bad_link"],
                                                session.language, self.nonce))
            self.finish(participant_page(session.page_config(), self.nonce))

    class Api(base):
        async def post(self, token: str, action: str) -> None:
            try:
                session.check_token(token)
                if len(self.request.body) > MAX_BODY:
                    raise Refused(413, "error_server", f"body larger than {MAX_BODY} bytes")
                try:
                    body = json.loads(self.request.body)
                except (ValueError, UnicodeDecodeError):
                    raise Refused(400, "error_server", "the body is not JSON") from None
                if not isinstance(body, dict):
                    raise Refused(400, "error_server", "the body must be a JSON object")
                if action == "answer":   # checked here, written with others at once
                    out = await answers.submit(session.check_answer(body))
                else:
                    out = await self.in_store(lambda: getattr(session, action)(body))
            except Refused as r:
                return self.refuse(r)
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(json.dumps(out))

    class Image(base):
        async def get(self, token: str, qid: str, letter: str) -> None:
            from simkit.widgets.view import placeholder_png, thumbnail_png

            try:
                session.check_token(token)
                if qid not in session.titles:
                    raise Refused(404, "error_server", "no such question")
            except Refused as r:
                return self.refuse(r)
            image_id = session.study.question_images(qid)[LETTERS.index(letter)]

            def draw() -> bytes:
                try:
                    return thumbnail_png(session.study.image_path(image_id), image_px)
                except (OSError, KeyError, ValueError):  # unreadable: a grey square
                    return placeholder_png(image_px)

            png = await asyncio.get_running_loop().run_in_executor(image_threads, draw)
            self.set_header("Content-Type", "image/png")
            self.set_header("Cache-Control", "private, max-age=3600")
            self.finish(png)

    return [(r"/s/([^/]+)/", Participant),
            (r"/s/([^/]+)/api/(join|resume|answer)", Api),
            (r"/s/([^/]+)/img/([^/]+)/([a-e])", Image)]


def _teacher_routes(base: type, session: ServeSession) -> list[tuple]:
    """The teacher's page, live progress, closing, the QR code."""

    class Teacher(base):
        def prepare(self) -> None:
            try:
                session.check_token(self.path_args[0], teacher=True)
            except Refused as r:
                self.refuse(r)

    class TeacherPage(Teacher):
        def get(self, token: str) -> None:
            self.finish(teacher_page({"session": session.session_token,
                                      "study": session.root.name}, self.nonce))

    class Progress(Teacher):
        async def get(self, token: str) -> None:
            self.finish(await self.in_store(session.progress))

    class Close(Teacher):
        async def post(self, token: str) -> None:
            def close() -> dict:
                session.close()
                return session.progress()
            self.finish(await self.in_store(close))

    class Qr(Teacher):
        def get(self, token: str) -> None:
            url = self.get_argument("url", "")
            parts = urlsplit(url)
            # only a link to this session: the page is no QR service for anything else
            if parts.scheme not in ("http", "https") or not parts.path.endswith(
                    f"/s/{session.session_token}/") or len(url) > 2000:
                return self.refuse(Refused(400, "error_server",
                                           "url must be the participants' link"))
            self.set_header("Content-Type", "image/svg+xml")
            self.finish(qr_svg(url))

    return [(r"/t/([^/]+)/", TeacherPage),
            (r"/t/([^/]+)/api/progress", Progress),
            (r"/t/([^/]+)/api/close", Close),
            (r"/t/([^/]+)/qr\.svg", Qr)]


def listen(app: Any, host: str, port: int) -> tuple[Any, int]:
    """Start an HTTP server for ``app`` on ``host:port`` (0: any free port) in the running
    event loop; return the server and the port it listens on."""
    import tornado.httpserver
    import tornado.netutil

    sockets = tornado.netutil.bind_sockets(port, host, family=socket.AF_INET
                                           if host and ":" not in host else socket.AF_UNSPEC)
    server = tornado.httpserver.HTTPServer(app, max_body_size=MAX_CONNECTION_BODY,
                                           xheaders=False)
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1]


def run(session: ServeSession, host: str, port: int, *, image_px: int = 480,
        on_ready: Callable[[int], None] | None = None) -> None:
    """Serve ``session`` until interrupted (Ctrl-C or SIGTERM); ``on_ready(port)`` is
    called once the server listens."""
    import signal

    async def main() -> None:
        app = make_app(session, image_px=image_px)
        server, bound = listen(app, host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
                pass
        if on_ready is not None:
            on_ready(bound)
        try:
            await stop.wait()
        finally:
            server.stop()
            for pool in app.simkit_threads:  # the queued writes finish before the store closes
                pool.shutdown(wait=True)

    asyncio.run(main())
