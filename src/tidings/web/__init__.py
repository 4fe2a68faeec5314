"""The web layer: public pages, the admin UI, the REST API and the Mailchimp-compatible API.

``public``, ``admin``, ``api`` and ``mailchimp`` never import each other; what they
share lives in the modules of this package (errors, pages, deps).
"""
