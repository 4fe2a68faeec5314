"""A campaign body as the HTML template it becomes: Markdown rendered, HTML sanitised.

Bodies are written in Markdown (CommonMark with tables and strikethrough, raw HTML
allowed), HTML, or plain text, and may contain template tags (``{{ ... }}``,
``{% ... %}``). Tags are set aside before Markdown and sanitising and put back
afterwards, so ``[Unsubscribe]({{ unsubscribe_url }})`` and
``{{ subscriber.attributes["city"] }}`` survive both; a tag alone on its line stays
outside any paragraph. Template tags must stand in text or attribute values, not
inside the tag syntax itself (``<a {% if x %}...>``).

Sanitising (nh3) keeps the tags and attributes email layouts use (tables, inline
``style``, ``align``, ``bgcolor``, images, links to http, https, mailto and tel) and
drops scripts, ``<style>`` blocks, forms, frames, event handlers and comments, so the
body is safe to show on the web archive as well. Layouts are not sanitised: they are
written by administrators and need ``<head>`` and ``<style>``.
"""

from __future__ import annotations

import html
import re
import secrets
from functools import cache

import nh3
from markdown_it import MarkdownIt

from tidings.domain.campaigns import BodyFormat

_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)

SAFE_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "cite", "code", "col",
    "colgroup", "dd", "del", "div", "dl", "dt", "em", "figcaption", "figure", "font", "h1",
    "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p",
    "pre", "q", "s", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "u", "ul",
})
"""The elements a campaign body keeps after sanitising."""
_CELL = {"align", "valign", "width", "height", "bgcolor", "colspan", "rowspan"}
SAFE_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"style", "class", "title", "align", "dir", "lang"},
    "a": {"href", "name", "target"},
    "img": {"src", "alt", "width", "height", "border"},
    "table": {"width", "height", "border", "cellpadding", "cellspacing", "bgcolor", "role"},
    "td": _CELL,
    "th": _CELL,
    "tr": {"valign", "bgcolor"},
    "col": {"width", "span"},
    "colgroup": {"width", "span"},
    "font": {"color", "face", "size"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "div": {"role"},
}
"""The attributes, per element, a campaign body keeps after sanitising."""


@cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


@cache
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(tags=set(SAFE_TAGS), attributes=SAFE_ATTRIBUTES,
                       clean_content_tags={"script", "style"},
                       url_schemes={"http", "https", "mailto", "tel"}, link_rel=None,
                       strip_comments=True)


def _protect(source: str) -> tuple[str, dict[str, str]]:
    """Replace template tags by inert words; return the text and the words' originals."""
    nonce = secrets.token_hex(4)
    originals: dict[str, str] = {}

    def hide(match: re.Match[str]) -> str:
        word = f"tdj{nonce}n{len(originals)}e"
        originals[word] = match.group(0)
        return word

    return _TAG.sub(hide, source), originals


def _restore(text: str, originals: dict[str, str]) -> str:
    for word, tag in originals.items():
        if not tag.startswith("{{"):
            # A statement or comment alone in a paragraph stays out of it.
            text = text.replace(f"<p>{word}</p>", tag)
        text = text.replace(word, tag)
    return text


def _text_to_html(text: str) -> str:
    paragraphs = re.split(r"\n\s*\n", text.strip().replace("\r\n", "\n"))
    return "\n".join("<p>" + html.escape(p, quote=False).replace("\n", "<br>\n") + "</p>"
                     for p in paragraphs if p.strip())


def to_html(body: str, body_format: BodyFormat) -> str:
    """The body as a sanitised HTML template (template tags intact)."""
    protected, originals = _protect(body)
    if body_format is BodyFormat.MARKDOWN:
        rendered = _markdown().render(protected)
    elif body_format is BodyFormat.TEXT:
        rendered = _text_to_html(protected)
    else:
        rendered = protected
    return _restore(_cleaner().clean(rendered), originals)
