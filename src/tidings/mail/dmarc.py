"""DMARC alignment (RFC 7489 §3.1, relaxed mode) of a sender's domains.

A message passes DMARC when SPF or DKIM passes *and* that domain is aligned with
the From domain: under relaxed alignment, both have the same organizational domain
(the registrable domain, found with the Public Suffix List: ``news.example.org`` and
``bounce.news.example.org`` both belong to ``example.org``; ``a.example.co.uk`` to
``example.co.uk``). Tidings uses this to warn about a configuration that cannot pass:
a DKIM key for another domain, a bounce domain elsewhere.
"""

from __future__ import annotations

from functools import cache

from publicsuffixlist import PublicSuffixList


@cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()


def organizational_domain(domain: str) -> str:
    """The registrable domain of ``domain`` (itself when it has no public suffix)."""
    name = domain.strip().rstrip(".").lower()
    return _suffixes().privatesuffix(name) or name


def aligned(from_domain: str, dkim_domain: str | None, mailfrom_domain: str | None) -> bool:
    """Whether DKIM's ``d=`` or the envelope (SPF) domain aligns with the From domain."""
    organization = organizational_domain(from_domain)
    return any(other and organizational_domain(other) == organization
               for other in (dkim_domain, mailfrom_domain))
