"""Where a request comes from, as far as the service can tell."""

import ipaddress
from collections.abc import Sequence

from services.settings import IPNetwork

UNKNOWN_CLIENT = "unknown"


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _is_trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: Sequence[IPNetwork]
) -> bool:
    return any(address in network for network in proxies)


def client_address(
    peer: str | None, forwarded_for: str | None, trusted_proxies: Sequence[IPNetwork]
) -> str:
    """The client's network address: the connection's peer, or, when the peer is one of our
    own proxies, the nearest address in X-Forwarded-For that is not a trusted proxy.

    Anyone can send X-Forwarded-For, so it is only believed hop by hop from trusted proxies;
    without any configured, it is ignored.
    """
    address = _address(peer) if peer else None
    if address is None:
        return UNKNOWN_CLIENT
    if forwarded_for and _is_trusted(address, trusted_proxies):
        for hop in reversed(forwarded_for.split(",")):
            hop_address = _address(hop)
            if hop_address is None:
                break  # a malformed entry: stop at the last address we could believe
            address = hop_address
            if not _is_trusted(address, trusted_proxies):
                break
    return str(address)
