"""The fetch guard's address policy: which IP addresses newsbot may connect to.

A feed URL may only reach addresses that `ipaddress` calls global, judged after unwrapping
the forms that hide an IPv4 address inside IPv6 (IPv4-mapped, 6to4, NAT64, Teredo), so
``::ffff:127.0.0.1`` counts as loopback and 100.64.0.0/10 (CGNAT) as not global; the
IPv4-compatible and IPv4-translated ranges (``::/96``, ``::ffff:0:0:0/96``) are refused
whole. The check
runs in the resolver, on the addresses aiohttp will actually connect to, and again on
literal IP hosts, so DNS names that point inward and redirects are refused too. Last, every
socket the fetcher opens is checked on the address it is about to connect to
(`guarded_socket_factory`), whatever path led there.

A host is judged as the HTTP client will use it: yarl folds fullwidth, circled and
mathematical digits and ideographic dots (NFKC, then IDNA), so ``１２７.０.０.１`` is
``127.0.0.1``. A host written in such characters that folds to an IP address or to
``localhost`` is refused outright: no honest feed spells its address that way. Ordinary
internationalised names (``bücher.de``) are fetched as usual.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiohappyeyeballs import AddrInfoType, SocketFactoryType
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from bot.errors import FetchRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# IPv4-compatible (::a.b.c.d, deprecated) and IPv4-translated (::ffff:0:a.b.c.d) addresses:
# no public host has one, and a stack may route them to the IPv4 address inside.
_NEVER = (ipaddress.ip_network("::/96"), ipaddress.ip_network("::ffff:0:0:0/96"))


def embedded_addresses(address: IPAddress) -> list[IPAddress]:
    """The address itself plus any IPv4 address carried inside an IPv6 one."""
    found: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.extend(address.teredo)
        if any(address in network for network in _NAT64):
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def public_only(address: IPAddress) -> bool:
    """The default policy: every address the connection could really reach is global, and
    the address is none of the IPv4-in-IPv6 forms no public host uses (``::/96``,
    ``::ffff:0:0:0/96``)."""
    if isinstance(address, ipaddress.IPv6Address) and any(address in n for n in _NEVER):
        return False
    return all(a.is_global and not a.is_multicast for a in embedded_addresses(address))


def allow_any(address: IPAddress) -> bool:
    """The policy with NEWSBOT_ALLOW_PRIVATE_NETWORKS=true."""
    return True


def literal_address(host: str) -> IPAddress | None:
    """The IP address a URL's host spells literally, or None for a DNS name."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


# The way out for a self-hoster whose feeds live on their own network.
PRIVATE_HINT = (
    "feeds on your own network need NEWSBOT_ALLOW_PRIVATE_NETWORKS=true, which lets "
    "newsbot fetch private, loopback and link-local addresses"
)


def not_public(address: str) -> str:
    return f"refused: {address} is not a public address ({PRIVATE_HINT})"


def check_literal_host(host: str, policy: AddressPolicy) -> None:
    """Refuse a URL whose host is a literal IP address the policy does not allow."""
    address = literal_address(host)
    if address is not None and not policy(address):
        raise FetchRefused(not_public(host))


def check_url_host(url: str, policy: AddressPolicy) -> str:
    """Check a URL's host as the HTTP client will connect to it; return that host.

    Raises `FetchRefused` for a missing host, for a host spelled in non-ASCII characters
    that folds to an IP address or localhost, and for a literal address the policy refuses.
    """
    try:
        target = URL(url)
        host = target.raw_host  # normalised (NFKC, IDNA): what aiohttp connects to
        written = urlsplit(url).hostname or ""
    except (ValueError, UnicodeError) as exc:
        raise FetchRefused(f"refused: malformed host ({exc})") from exc
    if not host:
        raise FetchRefused("refused: URL has no host")
    folded = host.rstrip(".").lower()
    if not written.isascii() and (
        literal_address(folded) is not None
        or folded == "localhost"
        or folded.endswith(".localhost")
    ):
        raise FetchRefused(f"refused: the host {written!r} is {folded} written in other characters")
    check_literal_host(host, policy)
    return host


class RefusedAddress(OSError):
    """The fetch guard refused the address a socket was about to connect to."""


def guarded_socket_factory(policy: AddressPolicy) -> SocketFactoryType:
    """A socket factory for aiohttp that refuses to connect anywhere the policy does not allow.

    It sees the final address of every connection attempt, IP literals included (aiohttp
    resolves those without asking the resolver)."""

    def make(addr_info: AddrInfoType) -> socket.socket:
        family, kind, proto, _name, address = addr_info
        found = literal_address(str(address[0]))
        if found is None or not policy(found):
            raise RefusedAddress(not_public(str(address[0])))
        return socket.socket(family=family, type=kind, proto=proto)

    return make


class GuardedResolver(AbstractResolver):
    """Resolves names, then keeps only the addresses the policy allows."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if self._allowed(r)]
        if not allowed:
            shown = ", ".join(sorted({str(r["host"]) for r in results})) or "nothing"
            raise FetchRefused(f"refused: {host} resolves to a non-public address ({shown})")
        return allowed

    def _allowed(self, result: ResolveResult | dict[str, Any]) -> bool:
        address = literal_address(str(result["host"]))
        return address is not None and self._policy(address)

    async def close(self) -> None:
        await self._inner.close()
