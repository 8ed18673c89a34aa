"""The SSRF guard: webhooks go only to ``https`` URLs of public addresses, unless
``WEBHOOK_ALLOW_PRIVATE=1`` (development and tests), checked at registration and before each send."""

from __future__ import annotations

import ipaddress
import socket
from typing import Callable
from urllib.parse import urlsplit


class AddressRefused(Exception):
    """The URL may not receive webhooks; the message says why."""


Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address the host name resolves to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"{host} does not resolve ({exc})") from None
    return sorted({info[4][0] for info in infos})


def check_url(url: str, *, allow_private: bool, resolver: Resolver = resolve) -> None:
    """Raise AddressRefused unless ``url`` may receive webhooks."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AddressRefused(f"not a URL: {exc}") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise AddressRefused("only https URLs receive webhooks")
    if not parts.hostname:
        raise AddressRefused("the URL has no host")
    if parts.username or parts.password:
        raise AddressRefused("credentials in the URL are not accepted; verify the signature instead")
    if allow_private:
        return
    port = port or (443 if parts.scheme == "https" else 80)
    for address in resolver(parts.hostname, port):
        ip = ipaddress.ip_address(address.split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if not ip.is_global or ip.is_multicast:
            raise AddressRefused(f"{parts.hostname} resolves to {ip}, which is not a public address")
