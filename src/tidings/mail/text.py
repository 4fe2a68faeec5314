"""The text/plain alternative, derived from the finished HTML.

Readers of the text part get the same words, with each link written after its text
(``Read more (https://...)``), list items as ``- item``, headings and paragraphs
separated by blank lines, and nothing from ``<head>``, ``<style>``, ``<script>`` or
elements hidden with ``display:none`` (such as a preheader). Paragraphs are wrapped
at 76 columns; long words (URLs) are never broken.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SKIP = frozenset({"head", "style", "script", "title", "template", "noscript"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "source", "track", "wbr"})
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol",
                        "table", "pre", "dl", "figure"})
_LINE = frozenset({"div", "tr", "li", "dt", "dd", "section", "article", "header", "footer",
                   "center", "address", "tbody", "thead", "tfoot", "figcaption", "main"})
_HIDDEN = re.compile(r"display\s*:\s*none|mso-hide\s*:\s*all", re.I)
_SPACE = re.compile(r"[ \t\r\n\f\u00a0]+")
_WIDTH = 76
_MARKER = re.compile("\ue000[0-9]+\ue001")
_LINK_WIDTH = 56
_VALUE_WIDTH = 12


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []     # finished paragraphs
        self.line: list[str] = []       # inline text of the current block
        self.skip_depth = 0             # inside <head>, <style>, hidden elements, ...
        self.stack: list[tuple[str, bool]] = []  # (tag, started skipping here)
        self.links: list[tuple[str, int]] = []  # (href, len(line) when the link opened)
        self.lists: list[list[int]] = []  # per open <ol>/<ul>: [counter] (-1 for bullets)
        self.pre = 0
        self.quote = 0

    # Block structure -------------------------------------------------------
    def _flush(self, gap: bool) -> None:
        raw = "".join(self.line)
        self.line = []
        text = raw.strip("\n") if self.pre else _SPACE.sub(" ", raw).strip()
        if text:
            self.blocks.append(("> " * self.quote) + text if not self.pre else text)
        if gap and self.blocks and self.blocks[-1] != "":
            self.blocks.append("")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        hides = tag in _SKIP or bool(_HIDDEN.search(values.get("style") or "")) \
            or "hidden" in values
        if tag not in _VOID:
            starts = hides and self.skip_depth == 0
            self.stack.append((tag, starts))
            if starts:
                self.skip_depth += 1
        if self.skip_depth:
            return
        if tag in _PARAGRAPH or tag in _LINE:
            self._flush(tag in _PARAGRAPH)
        if tag == "br":
            self.line.append("\n" if self.pre else "\u2028")
        elif tag == "hr":
            self._flush(True)
            self.blocks.extend(["-" * 20, ""])
        elif tag == "img":
            alt = (values.get("alt") or "").strip()
            if alt:
                self.line.append(f"[{alt}]")
        elif tag == "a":
            self.links.append((values.get("href") or "", len(self.line)))
        elif tag in ("ul", "ol"):
            self.lists.append([0 if tag == "ol" else -1])
        elif tag == "li":
            marker = "-"
            if self.lists and self.lists[-1][0] >= 0:
                self.lists[-1][0] += 1
                marker = f"{self.lists[-1][0]}."
            self.line.append("  " * max(len(self.lists) - 1, 0) + marker + " ")
        elif tag == "pre":
            self.pre += 1
        elif tag == "blockquote":
            self.quote += 1
        elif tag in ("td", "th"):
            self.line.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        # Close up to the matching open tag; tolerate stray end tags.
        if not any(open_tag == tag for open_tag, _ in self.stack):
            return
        while self.stack:
            open_tag, started = self.stack.pop()
            if started:
                self.skip_depth -= 1
            if open_tag == tag:
                break
        if self.skip_depth:
            return
        if tag == "a" and self.links:
            href, start = self.links.pop()
            label = _SPACE.sub(" ", "".join(self.line[start:])).strip()
            if href and not href.startswith("#") and href != label \
                    and href.removeprefix("mailto:") != label:
                self.line.append(f" ({href})" if label else href)
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "pre":
            self.pre -= 1
        elif tag == "blockquote":
            self._flush(True)
            self.quote = max(self.quote - 1, 0)
        if tag in _PARAGRAPH or tag in _LINE:
            self._flush(tag in _PARAGRAPH)

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.line.append(data)


def _width(word: str) -> int:
    # A slot marker stands for a value filled in later: a link's address when it is
    # in parentheses after the link text, otherwise most likely a name.
    markers = len(_MARKER.findall(word))
    if not markers:
        return len(word)
    guess = _LINK_WIDTH if word.startswith("(") else _VALUE_WIDTH
    return len(_MARKER.sub("", word)) + guess * markers


def _fill(line: str, indent: str) -> str:
    out: list[str] = []
    current = ""
    used = 0
    for word in line.split(" "):
        size = _width(word)
        if current and used + 1 + size > _WIDTH:
            out.append(current)
            current, used = indent + word, len(indent) + size
        elif current:
            current += " " + word
            used += 1 + size
        else:
            current, used = word, size
    out.append(current)
    return "\n".join(out)


def _wrap(block: str) -> str:
    lines = []
    for part in block.split("\u2028"):
        part = part.strip()
        match = re.match(r"((?:> )*)(\s*(?:-|\d+\.) )?", part)
        indent = match.group(1) + " " * len(match.group(2) or "") if match else ""
        lines.append(_fill(part, indent) if _width(part) > _WIDTH else part)
    return "\n".join(lines)


def from_html(html: str) -> str:
    """The plain-text rendering of ``html``, ending with one newline."""
    converter = _Converter()
    converter.feed(html)
    converter.close()
    converter._flush(False)
    paragraphs: list[str] = []
    for block in converter.blocks:
        if block == "" and (not paragraphs or paragraphs[-1] == ""):
            continue
        paragraphs.append(_wrap(block) if block else "")
    while paragraphs and paragraphs[-1] == "":
        paragraphs.pop()
    return "\n".join(paragraphs) + "\n"
