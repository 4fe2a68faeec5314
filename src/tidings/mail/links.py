"""The URLs and addresses Tidings puts in messages, and the tokens inside them.

Public pages serve exactly these paths (``web/public``); keep both sides in step.

==========================  =========================================================
``/u/<token>``              unsubscribe: GET shows a page, POST unsubscribes (also the
                            RFC 8058 one-click target). Token ``UNSUBSCRIBE``:
                            (subscriber id, list id or 0 for every list, campaign id
                            or 0). Never expires.
``/preferences/<token>``    the preference centre. Token ``PREFERENCES``:
                            (subscriber id,). Never expires.
``/confirm/<token>``        double opt-in: GET shows a button, POST confirms. Token
                            ``CONFIRM``: (subscriber id, consent id, issue minute);
                            expires after :data:`CONFIRM_MAX_AGE`.
``/archive/<slug>``         the web version of a campaign published to the archive
                            (its ``archive_slug``, else its uid).
``/admin/reset/<token>``    set a new admin password. Token ``PASSWORD_RESET``: (user
                            id, session version, issue minute); dies when used (the
                            version changes) or after :data:`PASSWORD_RESET_MAX_AGE`.
``/admin/setup/<token>``    the first-run setup page. Token ``SETUP``: (issue minute,);
                            dies once setup is done or after :data:`SETUP_MAX_AGE`.
``bounces+<token>@<domain>`` VERP envelope sender. Token ``BOUNCE``:
                            (subscriber id, campaign id or 0).
``unsubscribe+<token>@<domain>`` the mailto of List-Unsubscribe (same token as /u/).
==========================  =========================================================
"""

from __future__ import annotations

from tidings.mail.tokens import Purpose, TokenSigner

CONFIRM_MAX_AGE = 7 * 24 * 3600
PASSWORD_RESET_MAX_AGE = 3600
SETUP_MAX_AGE = 24 * 3600


def unsubscribe_token(tokens: TokenSigner, subscriber_id: int, list_id: int = 0,
                      campaign_id: int = 0) -> str:
    return tokens.sign(Purpose.UNSUBSCRIBE, subscriber_id, list_id, campaign_id)


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url}/u/{token}"


def unsubscribe_mailto(mail_domain: str, token: str) -> str:
    return f"mailto:unsubscribe+{token}@{mail_domain}?subject=unsubscribe"


def preferences_url(base_url: str, tokens: TokenSigner, subscriber_id: int) -> str:
    return f"{base_url}/preferences/{tokens.sign(Purpose.PREFERENCES, subscriber_id)}"


def confirm_url(base_url: str, tokens: TokenSigner, subscriber_id: int, consent_id: int,
                *, now: float | None = None) -> str:
    token = tokens.sign_expiring(Purpose.CONFIRM, subscriber_id, consent_id, now=now)
    return f"{base_url}/confirm/{token}"


def archive_url(base_url: str, slug: str) -> str:
    return f"{base_url}/archive/{slug}"


def password_reset_url(base_url: str, tokens: TokenSigner, user_id: int, session_version: int,
                       *, now: float | None = None) -> str:
    token = tokens.sign_expiring(Purpose.PASSWORD_RESET, user_id, session_version, now=now)
    return f"{base_url}/admin/reset/{token}"


def verp_address(mail_domain: str, tokens: TokenSigner, subscriber_id: int,
                 campaign_id: int = 0) -> str:
    return f"bounces+{tokens.sign(Purpose.BOUNCE, subscriber_id, campaign_id)}@{mail_domain}"


def setup_url(base_url: str, tokens: TokenSigner, *, now: float | None = None) -> str:
    return f"{base_url}/admin/setup/{tokens.sign_expiring(Purpose.SETUP, now=now)}"
