"""Raw bounce, complaint and auto-reply messages as real MTAs and providers send them."""

from __future__ import annotations


def dsn(recipient: str, status: str, diagnostic: str, *, action: str = "failed",
        original_headers: str = "", verp: str = "") -> bytes:
    return f"""\
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: {verp or "bounces@news.example.org"}
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net. I'm sorry to have to inform you
that your message could not be delivered to one or more recipients.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Sun, 29 Nov 2026 08:54:14 +0000

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Remote-MTA: dns; mail.example.com
Diagnostic-Code: smtp; {diagnostic}

--B1
Content-Type: text/rfc822-headers

{original_headers or "Subject: Hello"}
--B1--
""".replace("\n", "\r\n").encode()


def arf(*, original_mail_from: str = "", original_headers: str = "",
        feedback_type: str = "abuse") -> bytes:
    return f"""\
From: feedback@arf.mail.yahoo.com
To: complaints@news.example.org
Subject: FW: Hello
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F1"

--F1
Content-Type: text/plain

This is an email abuse report for an email message received from IP 192.0.2.7.

--F1
Content-Type: message/feedback-report

Feedback-Type: {feedback_type}
User-Agent: Yahoo!-Mail-Feedback/2.0
Version: 1
Original-Mail-From: <{original_mail_from}>
Original-Rcpt-To: <redacted@yahoo.com>
Arrival-Date: Sun, 29 Nov 2026 08:54:14 +0000
Source-IP: 192.0.2.7

--F1
Content-Type: text/rfc822-headers

{original_headers or "Subject: Hello"}
--F1--
""".replace("\n", "\r\n").encode()


def vacation() -> bytes:
    return (b"From: reader@example.com\r\nTo: bounces@news.example.org\r\n"
            b"Subject: Out of office: Hello\r\nAuto-Submitted: auto-replied\r\n\r\n"
            b"I am away until Monday.\r\n")


def plain_bounce(text: str) -> bytes:
    return (b"From: postmaster@old.example.net\r\nTo: bounces@news.example.org\r\n"
            b"Subject: failure notice\r\n\r\n" + text.encode() + b"\r\n")
