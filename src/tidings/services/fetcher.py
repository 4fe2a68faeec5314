"""Fetching a publisher's feed over HTTP without becoming a tool against the network.

A feed URL is user input, so a fetch must not reach what only the server can reach:

* only ``http`` and ``https``, no credentials in the URL;
* the host is resolved once and **every** address it resolves to must be public
  (not loopback, private, link-local, shared, multicast, reserved or unspecified,
  also when wrapped in IPv4-mapped, 6to4, Teredo or NAT64 IPv6); the connection then
  goes to the address that was checked (the Host header and TLS name stay the
  host's), so a second DNS answer cannot swap in an internal address;
* redirects are followed by hand, at most :attr:`Fetcher.max_redirects`, each hop
  checked the same way;
* the body is read as a stream and abandoned beyond :attr:`Fetcher.max_bytes`
  (counted after decompression) or after :attr:`Fetcher.timeout` seconds in all.

``allow_loopback`` exists for tests that serve feeds from a local HTTP server. It is
off by default, and nothing a user sends can turn it on: only code constructing a
:class:`Fetcher` can.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from tidings import __version__
from tidings.domain.errors import FeedUnavailable, ValidationError

MAX_URL = 2000
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str            # after redirects
    content: bytes
    content_type: str


def check_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL without credentials, else ValidationError."""
    if not isinstance(url, str) or not url.strip() or len(url) > MAX_URL:
        raise ValidationError("A feed URL is an http:// or https:// address.", field="url")
    url = url.strip()
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise ValidationError("The feed URL contains spaces or control characters.",
                              field="url")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValidationError("A feed URL is an http:// or https:// address.", field="url")
    if parts.username is not None or parts.password is not None:
        raise ValidationError("The feed URL must not contain a user name or password.",
                              field="url")
    try:
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        raise ValidationError("The feed URL has an invalid port.", field="url") from None
    return url


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` (and any IPv4 address embedded in it) is publicly routable."""
    embedded: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        for inner in (address.ipv4_mapped, address.sixtofour):
            if inner is not None:
                embedded.append(inner)
        if address.teredo is not None:
            embedded.extend(address.teredo)
        if address in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return all(a.is_global and not a.is_multicast for a in embedded)


@dataclass(frozen=True, slots=True)
class Fetcher:
    """Fetches one URL at a time under the rules of the module docstring."""

    timeout: float = 10.0
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    allow_loopback: bool = False  # tests only; see the module docstring

    def _allowed(self, address: IPAddress) -> bool:
        if self.allow_loopback:
            plain = (address.ipv4_mapped or address) \
                if isinstance(address, ipaddress.IPv6Address) else address
            if plain.is_loopback:
                return True
        return is_public(address)

    def resolve(self, host: str, port: int) -> str:
        """The checked address to connect to for ``host``; FeedUnavailable if any is not."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise FeedUnavailable(f"The feed's host {host!r} cannot be resolved.") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise FeedUnavailable(f"The feed's host {host!r} has no address.")
        refused = [a for a in addresses if not self._allowed(a)]
        if refused:
            raise FeedUnavailable(f"The feed's host {host!r} resolves to a private or "
                                  f"reserved address ({refused[0]}); Tidings only fetches "
                                  "feeds from public addresses.")
        return str(addresses[0])

    def fetch(self, url: str) -> Fetched:
        """GET ``url`` and return the body; raise :class:`FeedUnavailable` on any failure."""
        deadline = time.monotonic() + self.timeout
        current = check_url(url)
        with httpx.Client(follow_redirects=False, trust_env=False,
                          timeout=httpx.Timeout(self.timeout)) as client:
            for _ in range(self.max_redirects + 1):
                result = self._get(client, current, deadline)
                if isinstance(result, Fetched):
                    return result
                try:
                    current = check_url(urljoin(current, result))
                except ValidationError as exc:
                    raise FeedUnavailable(f"The feed redirects to an unusable address: "
                                          f"{exc.message}") from None
        raise FeedUnavailable(f"The feed redirects more than {self.max_redirects} times.")

    def _get(self, client: httpx.Client, url: str, deadline: float) -> Fetched | str:
        """The body, or the Location of a redirect."""
        parts = urlsplit(url)
        try:
            host = (parts.hostname or "").encode("idna").decode("ascii")
        except UnicodeError:
            raise FeedUnavailable("The feed's host name is not valid.") from None
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        address = self.resolve(host, port)
        netloc = f"[{address}]" if ":" in address else address
        if parts.port:
            netloc += f":{parts.port}"
        target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        host_header = host if not parts.port else f"{host}:{parts.port}"
        headers = {"Host": host_header, "User-Agent": f"Tidings/{__version__} (feed digest)",
                   "Accept": "application/rss+xml, application/atom+xml, application/xml;"
                             "q=0.9, text/xml;q=0.9, */*;q=0.5"}
        try:
            with client.stream("GET", target, headers=headers,
                               extensions={"sni_hostname": host}) as response:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise FeedUnavailable("The feed answered with a redirect to nowhere.")
                    return str(location)
                if response.status_code != 200:
                    raise FeedUnavailable(f"The feed answered HTTP {response.status_code}.")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise FeedUnavailable(self._too_large())
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > self.max_bytes:
                        raise FeedUnavailable(self._too_large())
                    if time.monotonic() > deadline:
                        raise FeedUnavailable(self._too_slow())
                return Fetched(url, bytes(body), response.headers.get("content-type", ""))
        except httpx.TimeoutException:
            raise FeedUnavailable(self._too_slow()) from None
        except httpx.HTTPError as exc:
            raise FeedUnavailable(f"The feed could not be fetched: {exc}") from None

    def _too_large(self) -> str:
        return f"The feed is larger than {self.max_bytes // 1024} KiB."

    def _too_slow(self) -> str:
        return f"The feed did not arrive within {self.timeout:g} seconds."
