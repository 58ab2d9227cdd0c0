"""Where the client may connect: public addresses only, unless allowed.

An upstream URL comes from an operator, but the address its name resolves to
comes from DNS: a name may point at 127.0.0.1, the cloud metadata service
(169.254.169.254) or a private network the panel can reach and the world
should not. So the check runs on the resolved addresses, at connect time, and
the connection goes to the address that was checked (a second lookup could
answer differently). Any address that is not globally routable is refused:
loopback, private, link-local (metadata), carrier-grade NAT, multicast,
reserved, unspecified, and their IPv4-mapped IPv6 forms.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any, Iterable

import anyio
import httpcore
import httpx

from . import limits


def refused_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id is not part of the address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


class RefusedAddress(httpcore.ConnectError):
    """The guard's own refusal (a connect error to httpx; told apart in the call counts)."""


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to checked public addresses."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        refused = [a for a in addresses if refused_address(a)]
        if refused or not addresses:
            raise RefusedAddress(
                f"{host} resolves to a non-public address ({', '.join(refused) or 'none'}); "
                "set SMMPANEL_ALLOW_PRIVATE_UPSTREAMS=1 to allow private and loopback upstreams")
        return await self._inner.connect_tcp(addresses[0], port, timeout=timeout, local_address=local_address,
                                             socket_options=socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise RefusedAddress("unix sockets are not upstreams")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PublicOnlyTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with ``PublicOnlyBackend`` underneath (TLS, pooling
    and HTTP handling unchanged; no proxy from the environment)."""

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.MAX_CONNECTIONS,
            max_keepalive_connections=limits.MAX_KEEPALIVE_CONNECTIONS,
            network_backend=PublicOnlyBackend(),
        )
