"""The embeddable signup form: an HTML snippet publishers paste under their articles.

The admin UI's snippet generator and the public ``/embed/snippet`` endpoint both call
:func:`embed_snippet` (``from tidings.web.embed import embed_snippet``). The snippet is
a plain HTML form that works on its own (it posts to ``<base_url>/subscribe``), plus an
optional small script from Tidings that checks the list choice, sends the signup as
JSON and shows the answer in place. Its markup and a few scoped styles are
self-contained: no external fonts, images or frameworks.

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


def embed_snippet(base_url: str, lists: Sequence[MailingList], *, db: Database | None = None,
                  consent_text: str | None = None, privacy_url: str | None = None,
                  heading: str = HEADING, chosen: Sequence[str] = (),
                  with_script: bool = True) -> str:
    """The HTML to paste into a page of the publisher's site.

    ``lists`` are the public lists to offer (private ones are left out: Tidings would
    refuse them anyway); ``chosen`` the public ids or slugs ticked in advance (leave it
    empty unless the page is about one list).

    Pass ``db`` (as the admin UI does): the consent text and privacy link are then
    today's runtime settings unless given, and the text is stored now, so signups
    through this snippet record exactly the text it shows even after the setting
    changes. Without ``db``, ``consent_text`` is required and the snippet names no
    stored text: its plain-form signups record the consent text current at signup time
    (with the script, the form shows and records today's text anyway).
    """
    consent_hash = ""
    if db is not None:
        values = runtime_settings.get_all(db)
        if consent_text is None:
            consent_text = signups.consent_text(values)
        if privacy_url is None:
            privacy_url = str(values.get("publisher.privacy_url") or "")
        consent_hash = signups.remember_consent_text(db, consent_text)
    elif consent_text is None:
        raise ValueError("embed_snippet needs db or consent_text")
    privacy_url = privacy_url or ""
    base = base_url.rstrip("/")
    template = pages.environment().get_template("public/embed_snippet.html")
    return str(template.render(
        heading=heading,
        base=base,
        form={
            "action": f"{base}/subscribe", "api": f"{base}/api/public" if with_script else "",
            "lists": [m for m in lists if m.visibility == "public"], "chosen": set(chosen),
            "source": "embed", "errors": {}, "consent_text": consent_text,
            "consent_hash": consent_hash, "form_token": "",
            "altcha": with_script, "altcha_url": f"{base}/api/public/altcha",
            "privacy_url": privacy_url if privacy_url.startswith(("https://", "http://"))
            else "",
            "no_list": signups.NO_LIST, "id": "tidings",
        },
        with_script=with_script,
    )).strip() + "\n"
