"""The SSRF guard: webhooks go only to ``https`` URLs of public addresses, unless
``WEBHOOK_ALLOW_PRIVATE=1`` (development and tests), checked at registration and before each send.

Before each send the host is resolved **once**, every address is checked, and the connection is
made to the address that was checked (``pinned_target``; integrations/pinning.py connects to it),
so a DNS answer that changes between the check and the connect (DNS rebinding) cannot steer a
delivery to a private address.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit


class AddressRefused(Exception):
    """The URL may not receive webhooks; the message says why."""


Resolver = Callable[[str, int], list[str]]


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: the URL's host name (for the Host header, SNI and the
    certificate check), its port, and the checked address the connection is made to."""

    scheme: str
    hostname: str
    port: int
    address: str


def resolve(host: str, port: int) -> list[str]:
    """Every address the host name resolves to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"{host} does not resolve ({exc})") from None
    return sorted({info[4][0] for info in infos})


def _public(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address if it is public, else None."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip if ip.is_global and not ip.is_multicast else None


def pinned_target(url: str, *, allow_private: bool, resolver: Resolver = resolve) -> Target:
    """Check ``url`` and resolve its host once; the address to connect to. Raise AddressRefused
    unless the URL may receive webhooks (every address of the host must be public)."""
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
    port = port or (443 if parts.scheme == "https" else 80)
    answers = resolver(parts.hostname, port)
    if not answers:
        raise AddressRefused(f"{parts.hostname} does not resolve")
    if not allow_private:
        for address in answers:
            if _public(address) is None:
                raise AddressRefused(f"{parts.hostname} resolves to {address}, which is not a public address")
    return Target(parts.scheme, parts.hostname, port, answers[0].split("%")[0])


def check_url(url: str, *, allow_private: bool, resolver: Resolver = resolve) -> None:
    """Raise AddressRefused unless ``url`` may receive webhooks (at registration; with private
    addresses allowed the host need not resolve yet)."""
    unresolved: Resolver = lambda host, port: ["0.0.0.0"]  # noqa: E731 — nothing to check
    pinned_target(url, allow_private=allow_private, resolver=unresolved if allow_private else resolver)
