"""The delivery engine: campaigns and transactional mail out through SMTP or the capture outbox.

* :mod:`~tidings.delivery.relays`, :mod:`~tidings.delivery.smtp`,
  :mod:`~tidings.delivery.pool`, :mod:`~tidings.delivery.capture`: transports.
* :mod:`~tidings.delivery.ratelimit`, :mod:`~tidings.delivery.retry`: pacing.
* :mod:`~tidings.delivery.campaigns`: one campaign's sending (claim, send, record).
* :mod:`~tidings.delivery.transactional`: the outbox of confirmation, welcome, ... mail.
* :mod:`~tidings.delivery.worker`: the loop that runs all of it; ``inline`` runs it in
  a thread of ``tidings serve``.
"""
