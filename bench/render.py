"""Per-reader cost of building a campaign message, beside ceilings measured in the same run.

A realistic issue (~20 KB of HTML once laid out: headings, paragraphs, links, a list,
a greeting with the reader's first name, their city, the footer links) is compiled
once, then rendered for many readers:

* ``render`` without DKIM, with RSA-2048, with Ed25519, and dual-signed;
* the same issue with per-reader logic (``{% if subscriber.attributes.plan ... %}``),
  rendered in the sandbox per reader and served from compiled variants;
* ceilings: joining pre-encoded bytes (the least any renderer must do), one bare
  RSA-2048 / Ed25519 signature through OpenSSL, and the naive way: an
  ``EmailMessage`` built and flattened per reader.

Usage: ``.venv/bin/python bench/render.py [--readers 20000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from tidings.domain.campaigns import BodyFormat, Campaign, CampaignStatus
from tidings.domain.lists import MailingList, OptIn, Visibility
from tidings.mail import dkim
from tidings.mail.campaign import CompiledCampaign, compile_campaign
from tidings.mail.context import Recipient, Sender
from tidings.mail.tokens import TokenSigner

NOW = datetime(2026, 11, 29, tzinfo=UTC)
DOMAIN = "news.example.org"
PARAGRAPH = (
    "The harbour board met on Tuesday and, after **three hours** of debate, agreed to "
    "reopen the north quay to small boats from March. [Read the full report]"
    "(https://www.example.org/news/harbour-board-north-quay). Fishermen welcomed the "
    "decision; the sailing club asked for more moorings.\n\n"
)


def issue_body(logic: bool) -> str:
    parts = ["# Good morning, {{ subscriber.first_name|default('reader', true) }}\n\n",
             "Here is what happened in {{ subscriber.attributes.city|default('town') }} "
             "this week.\n\n"]
    for section in range(10):
        parts.append(f"## Section {section + 1}: the week in brief\n\n")
        parts.extend([PARAGRAPH] * 3)
        parts.append("* First item of note\n* Second item, with a [link](https://x.org)\n\n")
    if logic:
        parts.append("{% if subscriber.attributes.plan == 'pro' %}Thanks for supporting us "
                     "as a **pro** reader.{% else %}[Become a supporter]"
                     "(https://www.example.org/support){% endif %}\n")
    return "".join(parts)


def campaign(logic: bool) -> Campaign:
    return Campaign(id=42, uid="CampaignUid00042", name="Weekly 48",
                    subject="{{ subscriber.first_name|default('Reader', true) }}, your weekly "
                            "news from the harbour",
                    body=issue_body(logic), body_format=BodyFormat.MARKDOWN,
                    status=CampaignStatus.RUNNING, created_at=NOW, updated_at=NOW,
                    list_ids=(1,), archive=True, archive_slug="weekly-48")


def readers(count: int) -> list[Recipient]:
    names = ["Ada Lovelace", "Jörg Müller", "", "Zoë Ng", "Grace Hopper"]
    return [Recipient(subscriber_id=1000 + i, uid=f"reader{i:010d}",
                      email=f"reader{i}@example.com", name=names[i % len(names)],
                      attributes={"city": "Portsmouth", "plan": "pro" if i % 3 else "free"},
                      list_ids=(1,)) for i in range(count)]


# CPU time of this process, not wall time: the machines these run on are shared, and
# other processes' load would otherwise count as ours.
clock = time.process_time


def per_call(fn: Callable[[], object], count: int, repeat: int) -> float:
    """Median over ``repeat`` runs of the CPU µs one call takes."""
    runs = []
    for _ in range(repeat):
        start = clock()
        for _ in range(count):
            fn()
        runs.append((clock() - start) / count * 1e6)
    return statistics.median(runs)


def per_reader(compiled: CompiledCampaign, people: list[Recipient], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = clock()
        for person in people:
            compiled.render(person)
        runs.append((clock() - start) / len(people) * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    sender = Sender(base_url=f"https://{DOMAIN}", mail_domain=DOMAIN,
                    publisher_name="Harbour News", from_email=f"news@{DOMAIN}",
                    postal_address="1 Harbour Street\nPortsmouth PO1 2AB",
                    feedback_sender_id="harbour01")
    tokens = TokenSigner("bench-secret-key-0123456789abcdef")
    weekly = MailingList(id=1, uid="ListUid000000001", slug="weekly", name="Harbour Weekly",
                         description="", visibility=Visibility.PUBLIC, optin=OptIn.DOUBLE,
                         created_at=NOW, updated_at=NOW)
    rsa_key = dkim.generate_key(DOMAIN, "s1").key
    ed_key = dkim.generate_key(DOMAIN, "e1", "ed25519-sha256").key
    people = readers(args.readers)
    few = people[: max(args.readers // 10, 500)]

    def build(logic: bool, signer: dkim.DkimSigner | None) -> CompiledCampaign:
        return compile_campaign(campaign(logic), [weekly], layout=None, sender=sender,
                                tokens=tokens, dkim=signer)

    start = clock()
    plain = build(False, None)
    compile_ms = (clock() - start) * 1e3
    sample = plain.render(people[0])
    html_bytes = len(plain.preview(people[0]).html.encode())

    rows: list[tuple[str, float]] = []
    rows.append(("render, no DKIM", per_reader(plain, people, args.repeat)))
    rows.append(("render, RSA-2048", per_reader(build(False, dkim.DkimSigner(rsa_key)), few,
                                                args.repeat)))
    rows.append(("render, Ed25519", per_reader(build(False, dkim.DkimSigner(ed_key)), people,
                                               args.repeat)))
    rows.append(("render, RSA + Ed25519", per_reader(
        build(False, dkim.DkimSigner(rsa_key, ed_key)), few, args.repeat)))
    rows.append(("render, per-reader logic, no DKIM", per_reader(build(True, None), people,
                                                                 args.repeat)))

    # The least a renderer must do: join a message from a dozen pre-encoded pieces.
    pieces = [sample.data[i:i + 2048] for i in range(0, len(sample.data), 2048)]
    ceiling_join = per_call(lambda: b"".join(pieces), 20_000, args.repeat)
    rsa_private = dkim.load_private_key(rsa_key)
    ed_private = dkim.load_private_key(ed_key)
    data = b"x" * 600
    ceiling_rsa = per_call(lambda: rsa_private.sign(  # type: ignore[call-arg]
        data, padding.PKCS1v15(), hashes.SHA256()), 500, args.repeat)
    ceiling_ed = per_call(lambda: ed_private.sign(  # type: ignore[call-arg]
        hashlib.sha256(data).digest()), 5_000, args.repeat)
    preview = plain.preview(people[0])

    def naive() -> bytes:
        message = EmailMessage(policy=SMTP)
        for name, value in preview.headers:
            if name not in ("Content-Type", "MIME-Version"):
                message[name] = value
        message.set_content(preview.text, cte="quoted-printable")
        message.add_alternative(preview.html, subtype="html", cte="quoted-printable")
        return message.as_bytes()

    ceiling_naive = per_call(naive, 300, args.repeat)

    print(f"# bench/render.py — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python "
          f"{platform.python_version()}, {platform.machine()}, {args.readers} readers, "
          f"median of {args.repeat}")
    print(f"# issue: {html_bytes / 1024:.1f} KiB of HTML, {len(sample.data) / 1024:.1f} KiB "
          f"per message; compile once: {compile_ms:.0f} ms")
    print()
    print(f"| {'what':<44} | {'CPU µs/message':>14} | {'messages/s, 1 core':>18} |")
    print(f"|{'-' * 46}|{'-' * 16}:|{'-' * 20}:|")
    for label, micros in rows:
        print(f"| {label:<44} | {micros:>14.1f} | {1e6 / micros:>18,.0f} |")
    for label, micros in [
        ("ceiling: join pre-encoded bytes", ceiling_join),
        ("ceiling: one RSA-2048 signature (OpenSSL)", ceiling_rsa),
        ("ceiling: one Ed25519 signature (OpenSSL)", ceiling_ed),
        ("baseline: EmailMessage built + flattened", ceiling_naive),
    ]:
        print(f"| {label:<44} | {micros:>14.1f} | {1e6 / micros:>18,.0f} |")


if __name__ == "__main__":
    main()
