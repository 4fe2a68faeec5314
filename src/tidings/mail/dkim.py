"""DKIM signatures (RFC 6376) with RSA-SHA256 and Ed25519-SHA256 (RFC 8463).

Signing goes through ``cryptography`` (OpenSSL): dkimpy's own RSA code manages about
155 signatures a second, OpenSSL more than 4,000 and Ed25519 more than 40,000, so
the library is used only to verify, in tests.

Every signature uses ``c=relaxed/relaxed``, carries ``t=`` and no ``l=``, and signs
the headers in :data:`SIGNED` that are present, naming those in :data:`OVERSIGNED`
once more than they occur so that an added copy (a second From, a changed
List-Unsubscribe-Post) breaks the signature.

Keys are the runtime setting ``dkim.keys``: a list of ``{"domain", "selector",
"algorithm", "private_key"}`` where ``algorithm`` is ``rsa-sha256`` (``private_key``:
PEM, at least 2048 bits) or ``ed25519-sha256`` (``private_key``: base64 of the 32-byte
seed, as dkimpy's ``dknewkey`` writes it, or PEM). :func:`signer_for` picks the keys of
a From address's domain (or of its closest parent domain); with both an RSA and an
Ed25519 key for that domain, messages carry both signatures, RSA first.
:func:`generate_key` makes a key and the DNS TXT record to publish.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from tidings.domain.errors import ValidationError
from tidings.mail.headers import Header

SIGNED = ("from", "reply-to", "to", "subject", "date", "message-id", "mime-version",
          "content-type", "content-transfer-encoding", "list-id", "list-unsubscribe",
          "list-unsubscribe-post", "feedback-id", "auto-submitted")
OVERSIGNED = frozenset({"from", "subject", "date", "to", "list-unsubscribe",
                        "list-unsubscribe-post"})
MIN_RSA_BITS = 2048
_WSP = re.compile(r"[ \t]+")
_FOLD = 78


class Algorithm(StrEnum):
    RSA_SHA256 = "rsa-sha256"
    ED25519_SHA256 = "ed25519-sha256"


@dataclass(frozen=True, slots=True)
class DkimKey:
    """One private key for ``selector._domainkey.domain``."""

    domain: str
    selector: str
    algorithm: Algorithm
    private_key: str

    def __repr__(self) -> str:  # never print the key
        return f"DkimKey({self.domain!r}, {self.selector!r}, {self.algorithm.value!r})"


PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def load_private_key(key: DkimKey) -> PrivateKey:
    """The key object for ``key``; :class:`ValidationError` if it is unusable."""
    text = key.private_key.strip()
    where = f"DKIM key {key.selector}._domainkey.{key.domain}"
    try:
        if key.algorithm is Algorithm.ED25519_SHA256 and "-----BEGIN" not in text:
            seed = base64.b64decode(text, validate=True)
            if len(seed) != 32:
                raise ValueError("an Ed25519 seed is 32 bytes")
            return ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        loaded = serialization.load_pem_private_key(text.encode("ascii"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm, UnicodeEncodeError) as exc:
        raise ValidationError(f"{where}: the private key cannot be read ({exc}).",
                              field="dkim.keys") from None
    if key.algorithm is Algorithm.RSA_SHA256:
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValidationError(f"{where}: rsa-sha256 needs an RSA key.", field="dkim.keys")
        if loaded.key_size < MIN_RSA_BITS:
            raise ValidationError(f"{where}: RSA keys must have at least {MIN_RSA_BITS} bits "
                                  f"(this one has {loaded.key_size}).", field="dkim.keys")
        return loaded
    if not isinstance(loaded, ed25519.Ed25519PrivateKey):
        raise ValidationError(f"{where}: ed25519-sha256 needs an Ed25519 key.",
                              field="dkim.keys")
    return loaded


def public_record(key: DkimKey) -> str:
    """The TXT record value to publish at ``selector._domainkey.domain``."""
    private = load_private_key(key)
    if isinstance(private, rsa.RSAPrivateKey):
        der = private.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
        return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode("ascii")
    raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    return "v=DKIM1; k=ed25519; p=" + base64.b64encode(raw).decode("ascii")


def txt_strings(record: str) -> list[str]:
    """``record`` split into the at most 255-character strings a TXT record holds."""
    return [record[i:i + 255] for i in range(0, len(record), 255)] or [""]


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    key: DkimKey
    dns_name: str
    dns_record: str

    @property
    def dns_strings(self) -> list[str]:
        return txt_strings(self.dns_record)

    @property
    def zone_line(self) -> str:
        """The record in zone-file syntax, split into quoted strings."""
        quoted = " ".join(f'"{s}"' for s in self.dns_strings)
        return f"{self.dns_name}. IN TXT ( {quoted} )"

    @property
    def setting(self) -> dict[str, str]:
        """The entry to add to the ``dkim.keys`` runtime setting."""
        return {"domain": self.key.domain, "selector": self.key.selector,
                "algorithm": self.key.algorithm.value, "private_key": self.key.private_key}


def generate_key(domain: str, selector: str,
                 algorithm: Algorithm | str = Algorithm.RSA_SHA256) -> GeneratedKey:
    """A new RSA-2048 or Ed25519 key for ``domain``, with its DNS record."""
    algorithm = Algorithm(algorithm)
    if algorithm is Algorithm.RSA_SHA256:
        private: PrivateKey = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        text = private.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode("ascii")
    else:
        private = ed25519.Ed25519PrivateKey.generate()
        seed = private.private_bytes(serialization.Encoding.Raw,
                                     serialization.PrivateFormat.Raw,
                                     serialization.NoEncryption())
        text = base64.b64encode(seed).decode("ascii")
    key = DkimKey(domain.lower().rstrip("."), selector, algorithm, text)
    return GeneratedKey(key, f"{selector}._domainkey.{key.domain}", public_record(key))


def keys_from_setting(value: Sequence[Mapping[str, Any]] | None) -> tuple[DkimKey, ...]:
    """The keys of the ``dkim.keys`` setting, each checked to load."""
    keys = []
    for entry in value or ():
        try:
            key = DkimKey(str(entry["domain"]).lower().rstrip("."), str(entry["selector"]),
                          Algorithm(str(entry["algorithm"])), str(entry["private_key"]))
        except (KeyError, ValueError, TypeError):
            raise ValidationError("Each DKIM key needs domain, selector, algorithm "
                                  "(rsa-sha256 or ed25519-sha256) and private_key.",
                                  field="dkim.keys") from None
        load_private_key(key)
        keys.append(key)
    return tuple(keys)


def signer_for(from_address: str, keys: Sequence[DkimKey]) -> DkimSigner | None:
    """The signer for mail from ``from_address`` (an address or a domain), or None.

    Keys of the From domain itself win; otherwise those of its closest parent domain
    (``d=example.org`` aligns with ``From: news.example.org`` under relaxed DMARC).
    """
    domain = from_address.rpartition("@")[2].lower().rstrip(".")
    best: list[DkimKey] = []
    for key in keys:
        if domain == key.domain or domain.endswith("." + key.domain):
            if not best or len(key.domain) > len(best[0].domain):
                best = [key]
            elif key.domain == best[0].domain:
                best.append(key)
    rsa_key = next((k for k in best if k.algorithm is Algorithm.RSA_SHA256), None)
    ed_key = next((k for k in best if k.algorithm is Algorithm.ED25519_SHA256), None)
    chosen = [k for k in (rsa_key, ed_key) if k is not None]
    return DkimSigner(*chosen) if chosen else None


def relaxed_header(name: str, value: str) -> bytes:
    """DKIM relaxed header canonicalisation (RFC 6376 §3.4.2), with CRLF."""
    unfolded = value.replace("\r\n", "").replace("\n", "")
    if "\t" in unfolded or "  " in unfolded:
        unfolded = _WSP.sub(" ", unfolded)
    return (name.strip().lower() + ":" + unfolded.strip() + "\r\n").encode("utf-8")


def relaxed_body(body: bytes) -> bytes:
    """DKIM relaxed body canonicalisation (RFC 6376 §3.4.4) of a whole body."""
    body = re.sub(rb"[ \t]+\r\n", b"\r\n", re.sub(rb"[ \t]+", b" ", body))
    body = body.rstrip(b"\r\n")
    return body + b"\r\n" if body else b""


def _fold_list(prefix: str, items: Sequence[str], separator: str) -> str:
    lines: list[str] = []
    line = prefix
    for i, item in enumerate(items):
        piece = item + (separator if i < len(items) - 1 else "")
        if len(line) + len(piece) > _FOLD and line.strip():
            lines.append(line)
            line = " "
        line += piece
    lines.append(line)
    return "\r\n".join(lines)


class DkimSigner:
    """Signs messages for one domain with one key, or two (RSA first, then Ed25519)."""

    __slots__ = ("_loaded", "_tags", "keys")

    def __init__(self, *keys: DkimKey) -> None:
        if not keys:
            raise ValueError("a DkimSigner needs at least one key")
        self.keys = keys
        self._loaded = tuple(load_private_key(k) for k in keys)
        self._tags: dict[tuple[str, ...], tuple[tuple[str, ...], str]] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        return (DkimSigner, self.keys)

    def __repr__(self) -> str:
        return f"DkimSigner{self.keys!r}"

    @property
    def domain(self) -> str:
        return self.keys[0].domain

    def signature_headers(self, headers: Sequence[Header], body_hash: bytes, *,
                          now: float | None = None,
                          known: Mapping[Header, bytes] | None = None) -> bytes:
        """The ``DKIM-Signature`` lines to put above ``headers`` (values as written).

        ``body_hash`` is the SHA-256 of the relaxed-canonical body. ``known`` may hold
        the canonical form (:func:`relaxed_header`) of headers that repeat from
        message to message, so they are not canonicalised again.
        """
        timestamp = int(time.time() if now is None else now)
        names, h_tag = self._h_tag(tuple(name.lower() for name, _ in headers))
        canonical = self._canonical_headers(headers, names, known or {})
        bh = base64.b64encode(body_hash).decode("ascii")
        out = []
        for key, private in zip(self.keys, self._loaded, strict=True):
            value = (f" v=1; a={key.algorithm.value}; c=relaxed/relaxed; d={key.domain}; "
                     f"s={key.selector}; t={timestamp};\r\n{h_tag};\r\n bh={bh};\r\n b=")
            # Relaxed form of this header as written: unfold; it has no runs of spaces.
            data = canonical + b"dkim-signature:" + value[1:].replace("\r\n", "").encode("ascii")
            if isinstance(private, rsa.RSAPrivateKey):
                signature = private.sign(data, padding.PKCS1v15(), hashes.SHA256())
            else:
                signature = private.sign(hashlib.sha256(data).digest())
            b64 = base64.b64encode(signature).decode("ascii")
            folded = "\r\n ".join(b64[i:i + 72] for i in range(0, len(b64), 72))
            out.append("DKIM-Signature:" + value + folded + "\r\n")
        return "".join(out).encode("ascii")

    def _h_tag(self, present: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
        """The names to sign for headers ``present`` and the folded ``h=`` tag (cached)."""
        cached = self._tags.get(present)
        if cached is None:
            names: list[str] = []
            for name in SIGNED:
                names.extend([name] * (present.count(name) + (name in OVERSIGNED)))
            cached = (tuple(names), _fold_list(" h=", names, ":"))
            if len(self._tags) < 64:
                self._tags[present] = cached
        return cached

    @staticmethod
    def _canonical_headers(headers: Sequence[Header], names: Sequence[str],
                           known: Mapping[Header, bytes]) -> bytes:
        # Repeated names take instances from the bottom up (RFC 6376 §5.4.2).
        positions: dict[str, list[int]] = {}
        for i, (name, _) in enumerate(headers):
            positions.setdefault(name.lower(), []).append(i)
        parts = []
        for name in names:
            stack = positions.get(name)
            if stack:
                header = headers[stack.pop()]
                canonical = known.get(header)
                parts.append(canonical if canonical is not None else relaxed_header(*header))
        return b"".join(parts)

    def sign(self, message: bytes, *, now: float | None = None) -> bytes:
        """``message`` (CRLF, complete) with its signature lines added on top."""
        head, separator, body = message.partition(b"\r\n\r\n")
        if not separator:
            raise ValueError("the message has no header/body separator")
        headers: list[Header] = []
        for line in head.decode("utf-8").split("\r\n"):
            if line[:1] in (" ", "\t") and headers:
                name, value = headers[-1]
                headers[-1] = (name, value + "\r\n" + line)
            else:
                name, _, value = line.partition(":")
                headers.append((name, value.removeprefix(" ")))
        body_hash = hashlib.sha256(relaxed_body(body)).digest()
        return self.signature_headers(headers, body_hash, now=now) + message
