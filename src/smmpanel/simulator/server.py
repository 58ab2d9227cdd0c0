"""Serving a ``Simulator`` over a real socket: a small asyncio HTTP/1.1 server.

Its own server (not an ASGI one) so that faults are real: a hang keeps the
socket silent, a drop closes it without a byte of reply.

In tests::

    sim = create_simulator("68smm", hang_s=2)
    with SimulatorServer(sim) as server:        # .start() / .stop() also work
        client = ProviderClient(server.url, sim.key, timeout_s=0.3, allow_private=True)  # it listens on 127.0.0.1
        ...

For operators (``smmpanel simulate``): ``serve(sim, port=8765)`` blocks until
interrupted; ``serve_async`` is the same as a coroutine.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Callable

from .panel import API_PATH, Reply, Simulator, drip_pieces

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_LINE_BYTES = 16 * 1024
MAX_HEADERS = 100
MAX_BODY_BYTES = 10 * 1024 * 1024
IDLE_TIMEOUT_S = 60.0  # a keep-alive connection idle this long is closed
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
SERVER_NAME = "smmpanel-simulator"


class _BadRequest(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: str
    content_type: str
    body: bytes
    keep_alive: bool


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        return exc.partial
    except asyncio.LimitOverrunError:
        raise _BadRequest(431) from None


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = (await _read_line(reader)).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise _BadRequest(400) from None
        if size == 0:
            while (await _read_line(reader)).strip():  # trailers
                pass
            return bytes(body)
        if len(body) + size > MAX_BODY_BYTES:
            raise _BadRequest(413)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    line = await _read_line(reader)
    while line in (b"\r\n", b"\n"):
        line = await _read_line(reader)
    if not line:
        return None
    parts = line.decode("latin-1").strip().split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest(400)
    method, target, version = parts
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        raw = await _read_line(reader)
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    else:
        raise _BadRequest(431)
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        try:
            length = int(headers.get("content-length", "0") or "0")
        except ValueError:
            raise _BadRequest(400) from None
        if length < 0:
            raise _BadRequest(400)
        if length > MAX_BODY_BYTES:
            raise _BadRequest(413)
        body = await reader.readexactly(length)
    path, _, query = target.partition("?")
    connection = headers.get("connection", "").lower()
    keep_alive = connection == "keep-alive" if version == "HTTP/1.0" else connection != "close"
    return _Request(method, path, query, headers.get("content-type", ""), body, keep_alive)


def _response_bytes(status: int, body: bytes, content_type: str, keep_alive: bool) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Server: {SERVER_NAME}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class _Http:
    """The asyncio side: accepts connections and serves requests from ``sim``."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._connections: set[asyncio.Task[None]] = set()

    async def serve(self, host: str, port: int, ready: Callable[[int], None], stop: asyncio.Event) -> None:
        server = await asyncio.start_server(self._connection, host, port, limit=MAX_LINE_BYTES)
        try:
            ready(server.sockets[0].getsockname()[1])
            await stop.wait()
        finally:
            server.close()
            for task in list(self._connections):
                task.cancel()
            if self._connections:
                await asyncio.gather(*self._connections, return_exceptions=True)
            await server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                try:
                    request = await asyncio.wait_for(_read_request(reader), IDLE_TIMEOUT_S)
                except _BadRequest as exc:
                    writer.write(_response_bytes(exc.status, b"", "text/plain", False))
                    await writer.drain()
                    return
                if request is None:
                    return
                reply: Reply = self.sim.respond(
                    request.method, request.path, request.query, request.content_type, request.body
                )
                if reply.delay_s:
                    await asyncio.sleep(reply.delay_s)
                if reply.outcome != "reply":
                    return  # a drop or a hang: close without a byte of reply
                if reply.drip_s:
                    await self._drip(writer, reply, request.keep_alive)
                else:
                    writer.write(_response_bytes(reply.status, reply.body, reply.content_type, request.keep_alive))
                    await writer.drain()
                if not request.keep_alive:
                    return
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            return
        except asyncio.CancelledError:
            return  # the server is stopping: this task is the connection's top level, end it quietly
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


    @staticmethod
    async def _drip(writer: asyncio.StreamWriter, reply: Reply, keep_alive: bool) -> None:
        """The headers at once, then the body a piece at a time: every read gets a byte
        before a read timeout would fire, so only a deadline on the whole call stops it."""
        whole = _response_bytes(reply.status, reply.body, reply.content_type, keep_alive)
        writer.write(whole[: len(whole) - len(reply.body)])
        await writer.drain()
        pieces = drip_pieces(reply.body)
        for piece in pieces:
            await asyncio.sleep(reply.drip_s / len(pieces))
            writer.write(piece)
            await writer.drain()


class SimulatorServer:
    """``sim`` served on ``host:port`` (port 0: a free one) by a background thread."""

    def __init__(self, sim: Simulator, host: str = DEFAULT_HOST, port: int = 0) -> None:
        self.sim = sim
        self.host = host
        self.port = port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{API_PATH}"

    def start(self) -> str:
        """Start serving; returns the API URL (``http://127.0.0.1:PORT/api/v2``)."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._run, name=f"simulator-{self.sim.profile.name}", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("simulator server did not start in time")
        if self._failure is not None:
            raise RuntimeError(f"simulator server failed to start: {self._failure!r}")
        return self.url

    def stop(self) -> None:
        """Stop serving: open connections (hanging ones included) are closed."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(STOP_TIMEOUT_S)
        self._thread = None

    def __enter__(self) -> "SimulatorServer":
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()

            def ready(port: int) -> None:
                self.port = port
                self._ready.set()

            await _Http(self.sim).serve(self.host, self.port, ready, self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to start(); a thread must not die silently
            self._failure = exc
            self._ready.set()


async def serve_async(
    sim: Simulator,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    ready: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve ``sim`` until ``stop`` is set (or forever); ``ready(port)`` is called once listening."""
    await _Http(sim).serve(host, port, ready or (lambda _port: None), stop or asyncio.Event())


def serve(sim: Simulator, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          ready: Callable[[int], None] | None = None) -> None:
    """Serve ``sim`` in the foreground until interrupted (Ctrl-C)."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_async(sim, host, port, ready=ready))
