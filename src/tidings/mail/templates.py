"""The template sandbox: what editors may write in subjects, bodies and layouts.

Templates are Jinja2 run in an :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`
with HTML autoescaping (subjects are rendered without it). Beyond Jinja's own
sandbox (no ``_``-prefixed attributes, no mutation of data):

* no loader: ``{% include %}``, ``{% import %}`` and ``{% extends %}`` are refused;
* the only global is a ``range`` capped at :data:`MAX_RANGE` items; ``lipsum``,
  ``cycler``, ``joiner``, ``namespace`` and ``dict`` are gone;
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
will render. Templates are compiled for sending by :mod:`tidings.mail.slots`.
"""

from __future__ import annotations

import contextvars
import re
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tidings.domain.errors import ValidationError

MAX_SOURCE = 512 * 1024
MAX_RANGE = 1_000
MAX_ITERATIONS = 100_000
MAX_OUTPUT = 4 * 1024 * 1024
MAX_VALUE = 1024 * 1024
MAX_EXPONENT = 1_000

_SENTINEL_CHARS = re.compile("[\ue000-\ue002]")


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
_STR_METHODS = frozenset({"capitalize", "endswith", "isalnum", "isalpha", "isdigit", "islower",
                          "isupper", "lower", "lstrip", "rstrip", "split", "startswith", "strip",
                          "title", "upper"})
_MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})
LOOP_FILTER = "tidings_loop_budget"
CONCAT_FILTER = "tidings_concat"

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


class Sandbox(ImmutableSandboxedEnvironment):
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


def _environment(html: bool) -> Sandbox:
    env = Sandbox(autoescape=html, undefined=_Undefined, finalize=_finalize,
                   keep_trailing_newline=True, auto_reload=False, cache_size=0)
    env.globals.clear()
    env.globals["range"] = _safe_range
    standard = dict(env.filters)
    env.filters.clear()
    env.filters.update({name: standard[name] for name in FILTERS})
    env.filters["replace"] = _replace
    env.filters[LOOP_FILTER] = _loop_budget
    env.filters[CONCAT_FILTER] = _concat
    return env


@cache
def environment(html: bool = True) -> Sandbox:
    """The sandbox (one per process, built on first use): HTML-escaping or plain."""
    return _environment(html)


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


def clean_source(source: str) -> str:
    """The source without the private-use characters Tidings uses as markers."""
    return _SENTINEL_CHARS.sub("", source)


def constant(node: nodes.Node) -> tuple[bool, Any]:
    if isinstance(node, nodes.Const):
        return True, node.value
    return False, None


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
        ok, key = constant(item.arg)
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
