"""The address policy, unit by unit: every form of an inward address is refused."""

from __future__ import annotations

import ipaddress

import pytest

from bot.errors import FetchRefused
from bot.net.guard import allow_any, check_literal_host, public_only

REFUSED = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "169.254.169.254",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "2002:7f00:1::",
    "2002:a9fe:a9fe::1",
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::a00:1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo whose client is 127.0.0.1
    # IPv4-compatible (::/96) and IPv4-translated (::ffff:0:0:0/96): refused whole, even
    # around a public IPv4 address (issue #22).
    "::127.0.0.1",
    "::a9fe:a9fe",
    "::8.8.8.8",
    "::ffff:0:7f00:1",
    "::ffff:0:808:808",
]
ALLOWED = [
    "93.184.216.34",
    "8.8.8.8",
    "2606:4700:4700::1111",
    "::ffff:93.184.216.34",
    "2002:5db8:d822::1",
    "64:ff9b::808:808",
]


@pytest.mark.parametrize("address", REFUSED)
def test_inward_addresses_are_refused(address: str) -> None:
    assert not public_only(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert public_only(ipaddress.ip_address(address))


def test_allow_any_allows_loopback() -> None:
    assert allow_any(ipaddress.ip_address("127.0.0.1"))


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "169.254.169.254"])
def test_literal_hosts_are_checked(host: str) -> None:
    with pytest.raises(FetchRefused, match="not a public address"):
        check_literal_host(host, public_only)


def test_dns_names_are_left_to_the_resolver() -> None:
    check_literal_host("example.com", public_only)
