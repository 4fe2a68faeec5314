"""Bounce and complaint intake: VERP addresses, RFC 3464 DSNs, RFC 5965 ARF reports."""
