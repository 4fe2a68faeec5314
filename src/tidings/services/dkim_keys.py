"""DKIM signing keys: generated here, kept in the ``dkim.keys`` runtime setting.

Only the public side ever leaves this module (the DNS record to publish); the
private key stays in the setting, which pages and the API never show.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidings.db.database import Database
from tidings.domain.errors import Conflict, NotFound, ValidationError
from tidings.mail import dkim
from tidings.services import runtime_settings

SETTING = "dkim.keys"


@dataclass(frozen=True, slots=True)
class PublicKey:
    domain: str
    selector: str
    algorithm: str
    dns_name: str
    dns_record: str

    @property
    def zone_line(self) -> str:
        quoted = " ".join(f'"{s}"' for s in dkim.txt_strings(self.dns_record))
        return f"{self.dns_name}. IN TXT ( {quoted} )"


def _public(key: dkim.DkimKey) -> PublicKey:
    return PublicKey(domain=key.domain, selector=key.selector, algorithm=key.algorithm.value,
                     dns_name=f"{key.selector}._domainkey.{key.domain}",
                     dns_record=dkim.public_record(key))


def all_keys(db: Database) -> list[PublicKey]:
    """The public side of every signing key, in the order they were added."""
    return [_public(k) for k in dkim.keys_from_setting(runtime_settings.get(db, SETTING))]


def generate(db: Database, *, domain: str, selector: str, algorithm: str,
             actor: str) -> PublicKey:
    """Create a key for ``domain`` and start signing with it; return what to publish."""
    domain, selector = domain.strip().lower().rstrip("."), selector.strip()
    if not domain or "." not in domain:
        raise ValidationError("Give the domain of your sending address.", field="domain")
    try:
        generated = dkim.generate_key(domain, selector, algorithm)
    except ValueError as exc:
        raise ValidationError(str(exc), field="algorithm") from None
    current = list(runtime_settings.get(db, SETTING) or [])
    if any(k.get("domain") == domain and k.get("selector") == selector for k in current):
        raise Conflict(f"There is a key for {selector}._domainkey.{domain} already.",
                       field="selector")
    runtime_settings.update(db, {SETTING: [*current, generated.setting]}, actor=actor)
    return _public(generated.key)


def remove(db: Database, *, domain: str, selector: str, actor: str) -> None:
    """Stop signing with the key of ``selector`` for ``domain``; :class:`NotFound` if none."""
    domain, selector = domain.strip().lower().rstrip("."), selector.strip()
    current = list(runtime_settings.get(db, SETTING) or [])
    kept = [k for k in current if not (k.get("domain") == domain
                                       and k.get("selector") == selector)]
    if len(kept) == len(current):
        raise NotFound("No such DKIM key.")
    runtime_settings.update(db, {SETTING: kept}, actor=actor)
