"""The embeddable signup form: an HTML snippet publishers paste under their articles.

The admin UI's snippet generator and the public ``/embed/snippet`` endpoint both call
:func:`embed_snippet`. The snippet is a plain HTML form that works on its own (it posts
to ``<base_url>/subscribe``), plus an optional small script from Tidings that checks the
list choice, sends the signup as JSON and shows the answer in place. Its markup and a
few scoped styles are self-contained: no external fonts, images or frameworks.

The publisher's site must be listed in ``TIDINGS_CORS_ORIGINS`` for the script's JSON
calls and for readers to be sent back to it after a plain form post.
"""

from __future__ import annotations

from collections.abc import Sequence

from tidings.db.database import Database
from tidings.domain.lists import MailingList
from tidings.services import runtime_settings, signups
from tidings.web import pages

HEADING = "Sign up to our free newsletters"


def embed_snippet(db: Database, base_url: str, lists: Sequence[MailingList], *,
                  heading: str = HEADING, chosen: Sequence[str] = (),
                  with_script: bool = True) -> str:
    """The HTML to paste into a page of the publisher's site.

    ``lists`` are the public lists to offer (private ones are left out: Tidings would
    refuse them anyway); ``chosen`` the public ids or slugs ticked in advance (leave it
    empty unless the page is about one list). The consent text is today's
    ``consent.text``; it is stored now, so signups through this snippet record exactly
    the text it shows even after the setting changes.
    """
    values = runtime_settings.get_all(db)
    text = signups.consent_text(values)
    base = base_url.rstrip("/")
    privacy = str(values.get("publisher.privacy_url") or "")
    template = pages.environment().get_template("public/embed_snippet.html")
    return str(template.render(
        heading=heading,
        base=base,
        form={
            "action": f"{base}/subscribe", "api": f"{base}/api/public" if with_script else "",
            "lists": [m for m in lists if m.visibility == "public"], "chosen": set(chosen),
            "source": "embed", "errors": {}, "consent_text": text,
            "consent_hash": signups.remember_consent_text(db, text), "form_token": "",
            "altcha": with_script, "altcha_url": f"{base}/api/public/altcha",
            "privacy_url": privacy if privacy.startswith(("https://", "http://")) else "",
            "no_list": signups.NO_LIST, "id": "tidings",
        },
        with_script=with_script,
    )).strip() + "\n"
