"""An SMTP intake for the addresses Tidings hands out in messages.

Point the MX (or a transport map of the local MTA) for the mail domain at it. It
accepts only ``bounces+<token>@…`` (VERP bounces) and ``unsubscribe+<token>@…``
(List-Unsubscribe mailto) with genuine tokens, and the complaint mailbox
(``complaints@…``, where feedback loops are registered); it refuses every other
recipient with 550, and acts on what each message says.
"""

from __future__ import annotations

import asyncio
import logging
import re

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tidings.db.database import Database
from tidings.inbound import intake
from tidings.inbound.reports import mailto_ids, verp_ids
from tidings.mail.tokens import TokenSigner

log = logging.getLogger("tidings.inbound")
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
_COMPLAINTS = re.compile(r"^(complaints|fbl|abuse-reports)@", re.I)


class IntakeHandler:
    """aiosmtpd handler: filter recipients at RCPT, process messages after DATA."""

    def __init__(self, db: Database, tokens: TokenSigner) -> None:
        self.db = db
        self.tokens = tokens

    def accepts(self, address: str) -> bool:
        return (bool(_COMPLAINTS.match(address)) or verp_ids(address, self.tokens) is not None
                or mailto_ids(address, self.tokens) is not None)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if not self.accepts(address):
            return "550 5.1.1 No such recipient here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode("utf-8")
        for rcpt in envelope.rcpt_tos:
            try:
                await asyncio.to_thread(intake.process, self.db, self.tokens, raw,
                                        envelope_to=rcpt)
            except Exception:
                log.exception("could not process a message for %s", rcpt)
                return "451 4.3.0 Could not process the message now; try again later"
        return "250 2.0.0 Thank you"


def controller(db: Database, tokens: TokenSigner, host: str, port: int) -> Controller:
    return Controller(IntakeHandler(db, tokens), hostname=host, port=port,
                      data_size_limit=MAX_MESSAGE_BYTES, decode_data=False)
