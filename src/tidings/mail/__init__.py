"""Building messages: templates, Markdown, CSS inlining, headers, DKIM, signed link tokens.

* :mod:`~tidings.mail.context` — :class:`Sender`, :class:`Recipient`, :class:`Outgoing`;
* :mod:`~tidings.mail.campaign` — :func:`compile_campaign` once, ``render`` per reader;
* :mod:`~tidings.mail.system` — confirmation, welcome, test and password messages;
* :mod:`~tidings.mail.templates` — the sandbox and :func:`validate`;
* :mod:`~tidings.mail.dkim` — signing, keys and their DNS records;
* :mod:`~tidings.mail.links` and :mod:`~tidings.mail.tokens` — URLs and signed tokens;
* :mod:`~tidings.mail.headers`, :mod:`~tidings.mail.mime`, :mod:`~tidings.mail.text`,
  :mod:`~tidings.mail.content` — the pieces they are made of.
"""
