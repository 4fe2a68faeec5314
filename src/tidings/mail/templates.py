"""The template sandbox: what editors may write in subjects, bodies and layouts.

Templates are Jinja2 run in an :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`
with HTML autoescaping (subjects are rendered without it). Beyond Jinja's own
sandbox (no ``_``-prefixed attributes, no mutation of data):

* no loader: ``{% include %}``, ``{% import %}`` and ``{% extends %}`` are refused;
* the globals are only :data:`GLOBALS` (a ``range`` capped at :data:`MAX_RANGE`
  items); ``lipsum``, ``cycler``, ``joiner``, ``namespace`` and ``dict`` are gone;
* filters are the allow-list :data:`FILTERS` (no ``safe``, ``format``, ``center``,
  ``indent``, ``random``, ``attr``, ...);
* methods of strings and mappings are limited to harmless ones (``lower``,
  ``startswith``, ``get``, ``items``, ...), and ``str.format`` is refused;
* ``*``, ``**``, ``+`` and ``~`` refuse results above :data:`MAX_VALUE`
  characters (or exponents above 1,000), every render may run at most
  :data:`MAX_ITERATIONS` loop iterations in total and produce at most
  :data:`MAX_OUTPUT` characters;
* touching anything unsafe raises at once with a clear message instead of
  rendering nothing.

:func:`validate` reports syntax errors, unknown variables, fields and filters, and
the refused constructs, each with its line, so editors can only save templates that
will render. :func:`compile_source` also prepares templates for fast sending: every
``{{ ... }}`` that prints a per-reader value (``subscriber.name``, ``unsubscribe_url``,
...) directly, or through one of :data:`SLOT_FILTERS`, becomes a *slot* filled in per
reader without running Jinja; only templates with per-reader logic (``{% if
subscriber... %}``) are rendered per reader.
"""

from __future__ import annotations

import contextvars
import html as _html
import re
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg
from markupsafe import Markup, escape

from tidings.domain.errors import ValidationError

MAX_SOURCE = 512 * 1024
MAX_RANGE = 1_000
MAX_ITERATIONS = 100_000
MAX_OUTPUT = 4 * 1024 * 1024
MAX_VALUE = 1024 * 1024
MAX_EXPONENT = 1_000

SLOT_OPEN = "\ue000"
SLOT_CLOSE = "\ue001"
SLOT = re.compile("\ue000([0-9]+)\ue001")
_SENTINEL_CHARS = re.compile("[\ue000-\ue002]")
_WHITESPACE = re.compile(r"[ \t\r\n\f]+")


class Kind(StrEnum):
    """What a template is for; each kind sees its own variables."""

    SUBJECT = "subject"
    BODY = "body"
    LAYOUT = "layout"


SUBSCRIBER_FIELDS = frozenset({"name", "email", "first_name", "last_name", "uid", "attributes",
                               "attribs", "lists"})
CAMPAIGN_FIELDS = frozenset({"name", "subject", "uid", "archive_url"})
PUBLISHER_FIELDS = frozenset({"name", "postal_address", "website_url", "logo_url",
                              "color_primary", "color_background"})
LIST_FIELDS = frozenset({"name", "slug", "description", "uid"})

#: Fields of each structured variable; ``None``: free-form (attributes, lists, ...).
FIELDS: dict[str, frozenset[str] | None] = {
    "subscriber": SUBSCRIBER_FIELDS,
    "campaign": CAMPAIGN_FIELDS,
    "publisher": PUBLISHER_FIELDS,
    "list": LIST_FIELDS,
    "lists": None,
    "unsubscribe_url": frozenset(),
    "preferences_url": frozenset(),
    "archive_url": frozenset(),
    "content": frozenset(),
    "footer": frozenset(),
    "preheader": frozenset(),
}
_MESSAGE_VARIABLES = frozenset({"subscriber", "campaign", "publisher", "list", "lists",
                                "unsubscribe_url", "preferences_url", "archive_url"})
VARIABLES: dict[Kind, frozenset[str]] = {
    Kind.SUBJECT: _MESSAGE_VARIABLES,
    Kind.BODY: _MESSAGE_VARIABLES,
    Kind.LAYOUT: _MESSAGE_VARIABLES | {"content", "footer", "preheader"},
}
#: Variables whose value differs from reader to reader.
PER_READER = frozenset({"subscriber", "list", "unsubscribe_url", "preferences_url"})

FILTERS = frozenset({
    "abs", "batch", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first",
    "float", "groupby", "int", "items", "join", "last", "length", "list", "lower", "map", "max",
    "min", "reject", "rejectattr", "replace", "reverse", "round", "select", "selectattr",
    "slice", "sort", "string", "striptags", "sum", "title", "trim", "truncate", "unique",
    "upper", "urlencode", "urlize", "wordcount", "wordwrap",
})
#: Filters a slot may apply per reader (pure functions of the value).
SLOT_FILTERS = frozenset({"capitalize", "d", "default", "e", "escape", "lower", "string",
                          "striptags", "title", "trim", "upper", "urlencode"})
_STR_METHODS = frozenset({"capitalize", "endswith", "isalnum", "isalpha", "isdigit", "islower",
                          "isupper", "lower", "lstrip", "rstrip", "split", "startswith", "strip",
                          "title", "upper"})
_MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})
_LOOP_FILTER = "tidings_loop_budget"
_CONCAT_FILTER = "tidings_concat"

_STANDARD_REPLACE: Callable[..., Any] = jinja2.filters.do_replace
_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("tidings_template_budget")


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a template cannot be used, at a 1-based line."""

    line: int
    message: str


class TemplateLimit(SecurityError):
    """A template went beyond one of the sandbox's limits."""


# The environment ------------------------------------------------------------------------

def _safe_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateLimit(f"range() is limited to {MAX_RANGE} items.")
    return numbers


def _check_size(value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_VALUE:
        raise TemplateLimit(f"A value grew beyond {MAX_VALUE} characters or items.")
    return value


def _loop_budget(iterable: Any) -> Iterator[Any]:
    budget = _budget.get(None)
    if budget is None:
        budget = [MAX_ITERATIONS]
        _budget.set(budget)
    for item in iterable:
        budget[0] -= 1
        if budget[0] < 0:
            raise TemplateLimit(f"The template ran more than {MAX_ITERATIONS} loop iterations.")
        yield item


@jinja2.pass_eval_context
def _concat(eval_ctx: Any, parts: Sequence[Any]) -> Any:
    joined = markup_join(parts) if eval_ctx.autoescape else str_join(parts)
    return _check_size(joined)


@jinja2.pass_eval_context
def _replace(eval_ctx: Any, value: Any, old: Any, new: Any, count: int | None = None) -> Any:
    text, old_s, new_s = str(value), str(old), str(new)
    occurrences = text.count(old_s) if old_s else len(text) + 1
    if len(text) + occurrences * max(len(new_s) - len(old_s), 0) > MAX_VALUE:
        raise TemplateLimit(f"A value grew beyond {MAX_VALUE} characters or items.")
    return _STANDARD_REPLACE(eval_ctx, value, old, new, count)


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    # Slot markers are Markup; the same characters in data (a reader's name) are not,
    # and are dropped so that data can never pose as a slot.
    if type(value) is str and ("\ue000" in value or "\ue001" in value or "\ue002" in value):
        return clean_source(value)
    return value


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise TemplateLimit(f"Exponents are limited to {MAX_EXPONENT}.")
            if isinstance(left, int) and isinstance(right, int) \
                    and abs(left).bit_length() * abs(right) > 64 * MAX_EXPONENT:
                raise TemplateLimit("That power is too large.")
            return left ** right
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int) \
                        and len(seq) * times > MAX_VALUE:
                    raise TemplateLimit(f"A value grew beyond {MAX_VALUE} characters or items.")
            return left * right
        return _check_size(left + right)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return super().is_safe_attribute(obj, attr, value) and not isinstance(value, type)

    def is_safe_callable(self, obj: Any) -> bool:
        if isinstance(obj, type):
            return False
        if isinstance(obj, types.BuiltinMethodType | types.MethodWrapperType):
            owner = getattr(obj, "__self__", None)
            name = getattr(obj, "__name__", "")
            if isinstance(owner, str):
                return name in _STR_METHODS
            if isinstance(owner, Mapping):
                return name in _MAPPING_METHODS
            return False
        return bool(super().is_safe_callable(obj))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if not __self.is_safe_callable(__obj):
            name = getattr(__obj, "__name__", type(__obj).__name__)
            raise SecurityError(f"Calling {name!r} is not allowed in templates.")
        return __context.call(__obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> None:
        return None  # str.format is refused by is_safe_callable instead

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        raise SecurityError(f"Access to {attribute!r} is not allowed in templates.")


class _Undefined(jinja2.ChainableUndefined):
    """Missing values print as nothing; missing fields of missing values too."""


def _environment(html: bool) -> _Sandbox:
    env = _Sandbox(autoescape=html, undefined=_Undefined, finalize=_finalize,
                   keep_trailing_newline=True, auto_reload=False, cache_size=0)
    env.globals.clear()
    env.globals["range"] = _safe_range
    standard = dict(env.filters)
    env.filters.clear()
    env.filters.update({name: standard[name] for name in FILTERS})
    env.filters["replace"] = _replace
    env.filters[_LOOP_FILTER] = _loop_budget
    env.filters[_CONCAT_FILTER] = _concat
    return env


@cache
def environment(html: bool = True) -> _Sandbox:
    """The sandbox (one per process, built on first use): HTML-escaping or plain."""
    return _environment(html)


# Slots ------------------------------------------------------------------------------------

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


def getter(slot: Slot, env: _Sandbox) -> Getter:
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


def evaluate(slot: Slot, scope: Mapping[str, Any], env: _Sandbox) -> str:
    """What Jinja in ``env`` would print for ``slot`` in ``scope``, before escaping."""
    return getter(slot, env)(scope)


def _const(node: nodes.Node) -> tuple[bool, Any]:
    if isinstance(node, nodes.Const):
        return True, node.value
    return False, None


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
            ok, value = _const(arg)
            if not ok:
                return None
            args.append(value)
        kwargs: list[tuple[str, Any]] = []
        for pair in node.kwargs:
            ok, value = _const(pair.value)
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
            ok, key = _const(node.arg)
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
        return nodes.Filter(nodes.List(value.nodes, lineno=value.lineno), _CONCAT_FILTER,
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
        node.iter = nodes.Filter(_guard(node.iter), _LOOP_FILTER, [], [], None, None,
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


def clean_source(source: str) -> str:
    """The source without the private-use characters Tidings uses as markers."""
    return _SENTINEL_CHARS.sub("", source)


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


def check(source: str, *, kind: Kind | str, field_name: str | None = None) -> None:
    """Raise :class:`ValidationError` naming the first problem :func:`validate` finds."""
    kind = Kind(kind)
    problems = validate(source, kind=kind)
    if problems:
        first = problems[0]
        raise ValidationError(f"{kind.value.capitalize()} template, line {first.line}: "
                              f"{first.message}", field=field_name or kind.value,
                              line=first.line, problems=[p.message for p in problems])


def render(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    """Render within the sandbox's limits; any failure is a :class:`ValidationError`."""
    token = _budget.set([MAX_ITERATIONS])
    try:
        size = 0
        chunks: list[str] = []
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateLimit(f"The template produced more than {MAX_OUTPUT} characters.")
            chunks.append(chunk)
        return "".join(chunks)
    except SecurityError as exc:
        raise ValidationError(f"The template was stopped: {exc}", field="template") from None
    except Exception as exc:
        raise ValidationError(f"The template failed: {type(exc).__name__}: {exc}",
                              field="template") from None
    finally:
        _budget.reset(token)


# Validation ---------------------------------------------------------------------------------

def _line(node: nodes.Node) -> int:
    return int(getattr(node, "lineno", 1) or 1)


def _known_field_problems(ast: nodes.Template, variables: frozenset[str],
                          local: set[str]) -> list[Problem]:
    problems = []
    for node in ast.find_all(nodes.Getattr):
        inner = node.node
        if isinstance(inner, nodes.Name) and inner.name in variables and inner.name not in local:
            allowed = FIELDS.get(inner.name)
            if allowed is not None and node.attr not in allowed:
                hint = ", ".join(sorted(allowed)) or "no fields"
                problems.append(Problem(_line(node), f"{inner.name} has no field "
                                        f"{node.attr!r} (it has {hint})."))
    return problems


def validate(source: str, *, kind: Kind | str = Kind.BODY) -> list[Problem]:
    """Every problem in ``source`` that would stop it rendering, by line. Empty if fine."""
    kind = Kind(kind)
    if len(source) > MAX_SOURCE:
        return [Problem(1, f"The template is larger than {MAX_SOURCE // 1024} KiB.")]
    env = environment(kind is not Kind.SUBJECT)
    try:
        ast = env.parse(clean_source(source))
    except jinja2.TemplateSyntaxError as exc:
        return [Problem(exc.lineno or 1, exc.message or "Syntax error.")]
    problems: list[Problem] = []
    for stmt in ast.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        word = type(stmt).__name__.lower().replace("fromimport", "import")
        problems.append(Problem(_line(stmt), f"{{% {word} %}} is not available in templates."))
    for call in ast.find_all(nodes.Filter):
        if call.name not in FILTERS:
            problems.append(Problem(_line(call), f"Unknown filter {call.name!r}."))
    for test in ast.find_all(nodes.Test):
        if test.name not in env.tests:
            problems.append(Problem(_line(test), f"Unknown test {test.name!r}."))
    for attr in ast.find_all(nodes.Getattr):
        if attr.attr.startswith("_"):
            problems.append(Problem(_line(attr), f"Names starting with '_' ({attr.attr!r}) "
                                    "are not allowed."))
    for item in ast.find_all(nodes.Getitem):
        ok, key = _const(item.arg)
        if ok and isinstance(key, str) and key.startswith("_"):
            problems.append(Problem(_line(item), f"Names starting with '_' ({key!r}) "
                                    "are not allowed."))
    variables = VARIABLES[kind]
    local = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    local |= {"loop", "caller", "varargs", "kwargs", "self", "range"}
    for macro in ast.find_all(nodes.Macro):
        local.add(macro.name)
    reported: set[str] = set()
    for name in ast.find_all(nodes.Name):
        if name.ctx == "load" and name.name not in variables and name.name not in local \
                and name.name not in reported:
            reported.add(name.name)
            known = ", ".join(sorted(variables))
            problems.append(Problem(_line(name), f"Unknown variable {name.name!r} "
                                    f"(available: {known})."))
    problems.extend(_known_field_problems(ast, variables, local))
    if kind is Kind.LAYOUT and not any(
            n.name == "content" and n.ctx == "load" for n in ast.find_all(nodes.Name)):
        problems.append(Problem(1, "A layout must place the message with {{ content }}."))
    if not problems:
        try:
            env.from_string(ast)
        except jinja2.TemplateError as exc:
            problems.append(Problem(getattr(exc, "lineno", None) or 1, str(exc)))
    return sorted(problems, key=lambda p: p.line)
