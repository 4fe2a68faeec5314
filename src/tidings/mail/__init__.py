"""Building messages: templates, Markdown, CSS inlining, headers, DKIM, signed link tokens."""
