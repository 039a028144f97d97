"""The dashboard's web server: aiohttp on its own thread and event loop, behind a token.

``start_dashboard()`` starts a thread named ``greenroom-dashboard`` that runs
its own asyncio loop; the state calls run on one more thread
(``greenroom-dashboard-io``), so a slow answer never stalls the server.
``Dashboard.stop()`` closes the server, then both threads, and waits for them.

Security: it binds a loopback address only, and every request (the page and
its JSON) must carry the token: ``?token=...``, the ``X-Greenroom-Token``
header, or the cookie set when the page was loaded with a good token.
Anything else gets 403.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hmac
import ipaddress
import pathlib
import secrets
import threading
from typing import Any

from aiohttp import web

from greenroom.dashboard.snapshot import snapshot

PAGE = pathlib.Path(__file__).parent / "static" / "index.html"
COOKIE = "greenroom_dashboard_token"
HEADER = "X-Greenroom-Token"
START_TIMEOUT_S = 10.0


class Dashboard:
    """A running dashboard: open ``url`` (it carries the token) in a browser; ``stop()`` ends it."""

    def __init__(self, host: str, port: int, token: str, log_dir: str | None) -> None:
        self.host = host
        self.port = port  # the bound port once started (0 asks for a free one)
        self.token = token
        self.log_dir = log_dir
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._io = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="greenroom-dashboard-io")
        self._thread = threading.Thread(target=self._serve, name="greenroom-dashboard", daemon=True)

    @property
    def url(self) -> str:
        """The page's address with its token, e.g. ``http://127.0.0.1:8265/?token=...``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/?token={self.token}"

    def __repr__(self) -> str:
        return f"Dashboard(url={self.url!r})"

    # -- the server thread ----------------------------------------------------------------
    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main())
        except BaseException as e:  # startup failed (the port is taken): start() raises it
            self._error = e
        finally:
            self._ready.set()
            loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application(middlewares=[self._check_token])
        app.router.add_get("/", self._page)
        app.router.add_get("/api/snapshot", self._snapshot)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            self.port = runner.addresses[0][1]
            self._ready.set()
            await self._stopping.wait()
        finally:
            await runner.cleanup()

    @web.middleware
    async def _check_token(self, request: web.Request, handler: Any) -> web.StreamResponse:
        given = request.query.get("token") or request.headers.get(HEADER) or request.cookies.get(COOKIE) or ""
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return web.Response(status=403, text="403 Forbidden: the greenroom dashboard needs its token; open "
                                                 "the URL start_dashboard() returned (it ends in ?token=...)\n")  # fmt: skip
        response = await handler(request)
        if request.query.get("token"):
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
        return response

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=PAGE.read_text(), content_type="text/html",
                            headers={"Cache-Control": "no-store"})  # fmt: skip

    async def _snapshot(self, request: web.Request) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        try:
            data = await loop.run_in_executor(self._io, snapshot, self.log_dir)
        except Exception as e:  # the page shows it and keeps polling
            data = {"running": False, "error": f"{type(e).__name__}: {e}"}
        return web.json_response(data, headers={"Cache-Control": "no-store"})

    # -- the caller's side ------------------------------------------------------------------
    def start(self) -> Dashboard:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            self.stop()
            raise RuntimeError(f"the greenroom dashboard did not start within {START_TIMEOUT_S:.0f} s")
        if self._error is not None:
            self._thread.join()
            self._io.shutdown(wait=True)
            raise RuntimeError(f"the greenroom dashboard could not serve on {self.host}:{self.port}: "
                               f"{self._error}") from self._error  # fmt: skip
        return self

    def stop(self) -> None:
        """Close the server and wait for its threads. Safe to call twice."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and self._thread.is_alive():
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # its loop closed already
                pass
        if self._thread.is_alive():
            self._thread.join(timeout=START_TIMEOUT_S)
        self._io.shutdown(wait=True)


def start_dashboard(host: str = "127.0.0.1", port: int = 0, token: str | None = None,
                    log_dir: str | None = None) -> Dashboard:  # fmt: skip
    """Serve the dashboard from this process (a greenroom driver), on a thread of its own.

    Args:
        host: a loopback address to bind ("127.0.0.1", "::1" or "localhost"); nothing else, since
            the page shows what your programs run.
        port: the port; 0 picks a free one (``Dashboard.port`` says which).
        token: the secret every request must carry; a random one by default.
        log_dir: a folder whose newest ``*.log`` files' last lines the page shows.

    Returns:
        The running ``Dashboard``: ``url`` (with the token), ``token``, ``port``, ``stop()``.

    Raises:
        ValueError: ``host`` is not a loopback address.
        RuntimeError: the server could not start (the port is taken).
    """
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"start_dashboard(host={host!r}): the dashboard binds a loopback address only "
                             "(127.0.0.1, ::1 or localhost); reach it from elsewhere through an SSH tunnel")  # fmt: skip
    return Dashboard(host, int(port), token or secrets.token_urlsafe(24), log_dir).start()
