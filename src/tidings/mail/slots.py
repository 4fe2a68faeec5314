"""Slots: the per-reader values a compiled template leaves open.

Every ``{{ ... }}`` that prints a per-reader value (``subscriber.name``,
``unsubscribe_url``, ...) directly, or through one of :data:`SLOT_FILTERS`, becomes a
*slot*: the template renders once with a marker in its place (private-use characters
``U+E000 n U+E001``), and each reader's value is filled in later without running
Jinja. Templates with per-reader *logic* are marked :attr:`Compiled.per_reader` and
rendered per reader; their plain value prints still become slots.

:func:`compile_source` also installs the sandbox's runtime guards in the template: a
loop-iteration budget around every ``for`` and a size check on every ``~``.
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.utils import _PassArg
from markupsafe import Markup, escape

from tidings.mail.templates import (
    CONCAT_FILTER,
    LOOP_FILTER,
    PER_READER,
    Kind,
    Sandbox,
    check,
    clean_source,
    constant,
    environment,
    render,
)

SLOT_OPEN = "\ue000"
SLOT_CLOSE = "\ue001"
SLOT = re.compile("\ue000([0-9]+)\ue001")
_WHITESPACE = re.compile(r"[ \t\r\n\f]+")

#: Filters a slot may apply per reader (pure functions of the value).
SLOT_FILTERS = frozenset({"capitalize", "d", "default", "e", "escape", "lower", "string",
                          "striptags", "title", "trim", "upper", "urlencode"})
Path = tuple[str | int, ...]
FilterCall = tuple[str, tuple[Any, ...], tuple[tuple[str, Any], ...]]


@dataclass(frozen=True, slots=True)
class Slot:
    """A per-reader value printed by ``{{ root.path... | filters }}``."""

    root: str
    path: Path = ()
    filters: tuple[FilterCall, ...] = ()

    @property
    def expression(self) -> str:
        text = self.root + "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in self.path)
        return text + "".join(f"|{name}" for name, _, _ in self.filters)


@dataclass(slots=True)
class SlotTable:
    """The slots of one campaign: every template compiled for it shares the numbering."""

    slots: list[Slot] = field(default_factory=list)
    _index: dict[Slot, int] = field(default_factory=dict)
    _getters: list[Getter] = field(default_factory=list)

    def marker(self, slot: Slot) -> str:
        """The sentinel text standing for ``slot`` in rendered output."""
        index = self._index.get(slot)
        if index is None:
            index = self._index[slot] = len(self.slots)
            self.slots.append(slot)
        return f"{SLOT_OPEN}{index}{SLOT_CLOSE}"

    def values(self, scope: Mapping[str, Any], text_indexes: Sequence[int],
               html_indexes: Sequence[int]) -> tuple[dict[int, str], dict[int, str]]:
        """One reader's slot values for a message's text part and its HTML part.

        The HTML value is what autoescaping Jinja prints; the text value is what a
        reader sees of it (unescaped, white space collapsed as HTML shows it).
        """
        getters = self._getters
        if len(getters) < len(self.slots):
            env = environment(True)
            getters.extend(getter(slot, env) for slot in self.slots[len(getters):])
        text: dict[int, str] = {}
        html: dict[int, str] = {}
        printed: dict[int, str] = {}
        for index in html_indexes:
            value = printed[index] = getters[index](scope)
            html[index] = str(escape(value))
        for index in text_indexes:
            value = printed.get(index) or getters[index](scope)
            if isinstance(value, Markup):
                value = _html.unescape(str(value))
            if "\n" in value or "  " in value or "\t" in value or "\r" in value:
                value = _WHITESPACE.sub(" ", value)
            text[index] = value
        return text, html


_MISSING = object()
Getter = Callable[[Mapping[str, Any]], str]


def getter(slot: Slot, env: Sandbox) -> Getter:
    """A function printing ``slot`` from a scope as Jinja in ``env`` would (unescaped)."""
    root, path = slot.root, slot.path
    calls = tuple((env.filters[name], args, dict(kwargs)) for name, args, kwargs in slot.filters)
    undefined = env.undefined

    def get(scope: Mapping[str, Any]) -> str:
        value: Any = scope.get(root, _MISSING)
        for key in path:
            if type(value) is dict or isinstance(value, Mapping):
                value = value.get(key, _MISSING)
            elif isinstance(key, int) and isinstance(value, Sequence) \
                    and not isinstance(value, str):
                value = value[key] if -len(value) <= key < len(value) else _MISSING
            else:
                value = _MISSING
            if value is _MISSING:
                break
        if value is _MISSING:
            value = undefined()
        for func, args, kwargs in calls:
            value = func(value, *args, **kwargs)
        if value is None:
            return ""
        return value if isinstance(value, str) else str(value)

    return get


def evaluate(slot: Slot, scope: Mapping[str, Any], env: Sandbox) -> str:
    """What Jinja in ``env`` would print for ``slot`` in ``scope``, before escaping."""
    return getter(slot, env)(scope)


def _slot_of(expr: nodes.Node, roots: frozenset[str]) -> Slot | None:
    """The :class:`Slot` printed by ``expr``, or None if it is not that simple."""
    node: Any = expr
    filters: list[FilterCall] = []
    while isinstance(node, nodes.Filter):
        if node.name not in SLOT_FILTERS or node.dyn_args is not None \
                or node.dyn_kwargs is not None or node.node is None:
            return None
        func = environment().filters[node.name]
        if _PassArg.from_obj(func) is not None:
            return None
        args = []
        for arg in node.args:
            ok, value = constant(arg)
            if not ok:
                return None
            args.append(value)
        kwargs: list[tuple[str, Any]] = []
        for pair in node.kwargs:
            ok, value = constant(pair.value)
            if not ok:
                return None
            kwargs.append((str(getattr(pair, "key", "")), value))
        filters.append((node.name, tuple(args), tuple(kwargs)))
        node = node.node
    path: list[str | int] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            key: Any = node.attr
        else:
            ok, key = constant(node.arg)
            if not ok or not isinstance(key, str | int) or isinstance(key, bool):
                return None
        if isinstance(key, str) and (key.startswith("_") or hasattr(dict, key)):
            return None
        path.append(key)
        node = node.node
    if not isinstance(node, nodes.Name) or node.name not in roots:
        return None
    return Slot(node.name, tuple(reversed(path)), tuple(reversed(filters)))


class _Scope:
    """Names bound by loops, macros and ``with`` around a node."""

    @staticmethod
    def targets(node: nodes.Node) -> set[str]:
        return {n.name for n in node.find_all(nodes.Name) if n.ctx in ("store", "param")} | (
            {node.name} if isinstance(node, nodes.Name) and node.ctx in ("store", "param")
            else set())


def _guard(value: Any) -> Any:
    """``a ~ b`` becomes a size-checked join (Concat nodes cannot be intercepted)."""
    if isinstance(value, nodes.Concat):
        return nodes.Filter(nodes.List(value.nodes, lineno=value.lineno), CONCAT_FILTER,
                            [], [], None, None, lineno=value.lineno)
    return value


def _rewrite_all(children: Sequence[Any], table: SlotTable, roots: frozenset[str],
                 bound: frozenset[str]) -> None:
    for child in children:
        _rewrite(child, table, roots, bound)


def _rewrite(node: nodes.Node, table: SlotTable, roots: frozenset[str],
             bound: frozenset[str]) -> None:
    """Replace slot expressions by their sentinels and guard loops and ``~`` (in place)."""
    if isinstance(node, nodes.Output):
        free = roots - bound
        for i, expr in enumerate(node.nodes):
            if not isinstance(expr, nodes.TemplateData):
                slot = _slot_of(expr, free)
                if slot is not None:
                    marker = Markup(table.marker(slot))  # noqa: S704 (private-use characters)
                    node.nodes[i] = nodes.Const(marker, lineno=expr.lineno)
    if isinstance(node, nodes.For):
        node.iter = nodes.Filter(_guard(node.iter), LOOP_FILTER, [], [], None, None,
                                 lineno=node.iter.lineno)
        _rewrite(node.iter, table, roots, bound)
        inner = bound | _Scope.targets(node.target) | {"loop"}
        if node.test is not None:
            node.test = _guard(node.test)
            _rewrite(node.test, table, roots, inner)
        _rewrite_all(node.body, table, roots, inner)
        _rewrite_all(node.else_, table, roots, bound)
        return
    if isinstance(node, nodes.Macro | nodes.CallBlock):
        inner = bound | {a.name for a in node.args} | {"caller", "varargs", "kwargs"}
        if isinstance(node, nodes.CallBlock):
            _rewrite(node.call, table, roots, bound)
        _rewrite_all(node.body, table, roots, inner)
        return
    if isinstance(node, nodes.With):
        node.values = [_guard(v) for v in node.values]
        _rewrite_all(node.values, table, roots, bound)
        inner = bound | {t.name for t in node.targets if isinstance(t, nodes.Name)}
        _rewrite_all(node.body, table, roots, inner)
        return
    for name in node.fields:
        value = getattr(node, name, None)
        if isinstance(value, list):
            value[:] = [_guard(item) for item in value]
            _rewrite_all([item for item in value if isinstance(item, nodes.Node)], table,
                         roots, bound)
        elif isinstance(value, nodes.Node):
            value = _guard(value)
            setattr(node, name, value)
            _rewrite(value, table, roots, bound)


def _reassigned(ast: nodes.Template) -> frozenset[str]:
    """Per-reader names that ``{% set %}`` rebinds somewhere (no slots for those)."""
    names: set[str] = set()
    for node in ast.find_all((nodes.Assign, nodes.AssignBlock)):
        names |= _Scope.targets(node.target)  # type: ignore[attr-defined]
    return frozenset(names & PER_READER)


def _free_per_reader(node: nodes.Node, bound: frozenset[str]) -> bool:
    """Whether ``node`` still reads a per-reader variable (outside of the loops binding it)."""
    if isinstance(node, nodes.Name):
        return node.ctx == "load" and node.name in PER_READER and node.name not in bound
    if isinstance(node, nodes.For):
        inner = bound | _Scope.targets(node.target) | {"loop"}
        return _free_per_reader(node.iter, bound) or any(
            _free_per_reader(c, inner) for c in node.body) or any(
            _free_per_reader(c, bound) for c in node.else_) or (
            node.test is not None and _free_per_reader(node.test, inner))
    if isinstance(node, nodes.Macro | nodes.CallBlock):
        inner = bound | {a.name for a in node.args} | {"caller"}
        extra = _free_per_reader(node.call, bound) if isinstance(node, nodes.CallBlock) \
            else False
        return extra or any(_free_per_reader(c, inner) for c in node.body)
    if isinstance(node, nodes.With):
        inner = bound | {t.name for t in node.targets if isinstance(t, nodes.Name)}
        return any(_free_per_reader(v, bound) for v in node.values) or any(
            _free_per_reader(c, inner) for c in node.body)
    return any(_free_per_reader(child, bound) for child in node.iter_child_nodes())


@dataclass(frozen=True, slots=True)
class Compiled:
    """A template ready to render: ``per_reader`` says whether it needs each reader's data."""

    template: jinja2.Template
    per_reader: bool
    html: bool

    def render(self, context: Mapping[str, Any]) -> str:
        return render(self.template, context)


def compile_source(source: str, table: SlotTable, *, kind: Kind,
                   field_name: str | None = None) -> Compiled:
    """Compile ``source`` for sending: slots found, limits installed, checked first.

    Raises :class:`ValidationError` naming the first problem :func:`validate` finds.
    """
    kind = Kind(kind)
    check(source, kind=kind, field_name=field_name)
    html = kind is not Kind.SUBJECT
    env = environment(html)
    ast = env.parse(clean_source(source))
    roots = PER_READER - _reassigned(ast)
    _rewrite(ast, table, roots, frozenset())
    per_reader = _free_per_reader(ast, frozenset())
    template = env.from_string(ast)
    return Compiled(template, per_reader, html)
