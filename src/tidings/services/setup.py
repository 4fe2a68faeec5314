"""First run: the one-time setup page that creates the first administrator.

While no user exists and setup was never completed, ``tidings serve`` prints a signed,
expiring link (:func:`link`); the admin UI offers nothing
else until it is used. Completing it creates the first administrator and stores the
publisher's name, postal address and sending address in one transaction, after which
the link is dead.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from tidings.db import events
from tidings.db import settings as db_settings
from tidings.db import setup as db_setup
from tidings.db import users as db_users
from tidings.db.database import Database
from tidings.domain import emails
from tidings.domain import settings as registry
from tidings.domain.errors import Conflict, TokenInvalid, ValidationError
from tidings.domain.ids import new_uid
from tidings.domain.roles import Role
from tidings.domain.subscribers import check_name
from tidings.domain.timezones import utcnow
from tidings.domain.users import User
from tidings.mail import links
from tidings.mail.tokens import Purpose, TokenSigner
from tidings.services import accounts, runtime_settings
from tidings.services import users as user_passwords


def pending(db: Database) -> bool:
    """True on a fresh install: setup never completed and nobody can sign in."""
    if runtime_settings.get(db, "setup.completed"):
        return False
    with db.read() as conn:
        return db_users.count(conn) == 0


def link(db: Database, base_url: str, tokens: TokenSigner) -> str | None:
    """The one-time link of the setup page while setup is pending, else None."""
    return links.setup_url(base_url, tokens) if pending(db) else None


def check_token(db: Database, tokens: TokenSigner, token: str) -> None:
    """Raise :class:`TokenInvalid` / :class:`TokenExpired` unless the link still works."""
    tokens.verify(Purpose.SETUP, token, arity=1, max_age=links.SETUP_MAX_AGE)
    if not pending(db):
        raise TokenInvalid("Setup is complete; this link no longer works.")


def complete(db: Database, tokens: TokenSigner, token: str, *, email: str, name: str,
             password: str, publisher_name: str, postal_address: str,
             from_email: str) -> User:
    """Create the first administrator and the publisher's details, all or nothing."""
    check_token(db, tokens, token)
    address = emails.normalize(email)
    display = check_name(name)
    password_hash = user_passwords.hash_password(password)
    if not publisher_name.strip():
        raise ValidationError("The publisher's name is required.", field="publisher_name")
    if not postal_address.strip():
        raise ValidationError("A postal address is required in every campaign footer "
                              "(CAN-SPAM, CASL).", field="postal_address")
    values = {
        "publisher.name": registry.validate("publisher.name", publisher_name),
        "publisher.postal_address": registry.validate("publisher.postal_address",
                                                      postal_address.strip()),
        "mail.from_email": emails.normalize(from_email),
    }
    now = utcnow()
    try:
        with db.write() as conn:
            if not db_setup.claim(conn, now) or db_users.count(conn):
                raise TokenInvalid("Setup is complete; this link no longer works.")
            row = db_users.insert_user(conn, uid=new_uid(), email=address, name=display,
                                       password_hash=password_hash, role=str(Role.ADMIN),
                                       now=now)
            for key, value in values.items():
                db_settings.put(conn, key, value, now)
            events.record(conn, "setup.completed", now, actor=f"user:{address}",
                          subject_type="user", subject_id=row["id"])
    except IntegrityError:
        raise Conflict("Setup was completed meanwhile.") from None
    finally:
        runtime_settings.forget(db)
    return accounts.entity(row)
