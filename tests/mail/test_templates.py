"""The sandbox refuses escapes and runaway templates; validate() reports problems by line."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from tidings.domain.errors import ValidationError
from tidings.mail import slots, templates
from tidings.mail.slots import SlotTable
from tidings.mail.templates import Kind

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ self._TemplateReference__context }}",
    "{{ subscriber._private }}",
    "{{ subscriber['_private'] }}",
    "{{ config }}",
    "{{ request }}",
    "{{ environ }}",
    "{{ namespace }}",
    "{{ joiner() }}",
    "{% include 'secrets.txt' %}",
    "{% import 'macros.html' as m %}",
    "{% extends 'base.html' %}",
    "{% from 'x' import y %}",
    "{{ subscriber.name|safe }}",
    "{{ subscriber.name|attr('__class__') }}",
    "{{ subscriber.name|format('x') }}",
    "{{ subscriber.name|center(1000000000) }}",
    "{{ subscriber.name|random }}",
]
RUNTIME_STOPS = [
    ("{{ ''['__class__'] }}", "not allowed"),
    ("{% set k = '__class__' %}{{ ''[k] }}", "not allowed"),
    ("{% for x in range(10**9) %}{% endfor %}", "range() is limited"),
    ("{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}",
     "loop iterations"),
    ("{{ 'a' * 10**8 }}", "grew beyond"),
    ("{{ [1] * 10**8 }}", "grew beyond"),
    ("{{ 9 ** (10 ** 8) }}", "Exponents are limited"),
    ("{{ (10 ** 999) ** 999 }}", "too large"),
    ("{% set x = 'a' * 1000 %}" + "{% set x = x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x ~ x %}" * 3
     + "{% set x = x ~ x %}", "grew beyond"),
    ("{% set x = 'a' * 1000 %}" + "{% set x = x + x + x + x + x + x + x + x + x + x %}" * 3
     + "{% set x = x + x %}", "grew beyond"),
    ("{{ ('a' * 1000000)|replace('a', 'aa') }}", "grew beyond"),
    ("{{ 'x'.center(1000000000) }}", "Calling 'center' is not allowed"),
    ("{{ '{0:>999999999}'.format(1) }}", "Calling 'format' is not allowed"),
    ("{{ subscriber.attributes.pop('city') }}", "not allowed"),
    ("{{ subscriber.attributes.__len__() }}", "not allowed"),
    ("{{ 1 / 0 }}", "ZeroDivisionError"),
]


@pytest.mark.parametrize("source", ESCAPES)
def test_validate_refuses_every_escape_attempt(source: str) -> None:
    problems = templates.validate(source)
    assert problems, source
    assert all(p.line == 1 for p in problems)


@pytest.mark.parametrize("source", ESCAPES)
def test_escape_attempts_cannot_be_compiled(source: str) -> None:
    with pytest.raises(ValidationError):
        slots.compile_source(source, SlotTable(), kind=Kind.BODY)


def _render_unchecked(source: str, context: dict[str, Any]) -> str:
    """Render without validate(), as if a check had been missed: the sandbox must hold."""
    return templates.render(templates.environment().from_string(source), context)


@pytest.mark.parametrize("source", ESCAPES[:12])
def test_the_sandbox_itself_stops_escapes_without_leaking(source: str) -> None:
    context = {"subscriber": {"name": "Ada", "attributes": {"city": "London"}}}
    try:
        output = _render_unchecked(source, context)
    except ValidationError as exc:
        assert "os" not in exc.message.split(":")[-1].split() or "not allowed" in exc.message
        return
    assert "class" not in output and "module" not in output and "function" not in output
    assert "{" not in output


@pytest.mark.parametrize("source, message", RUNTIME_STOPS)
def test_runaway_and_unsafe_templates_are_stopped_with_a_clear_message(source: str,
                                                                        message: str) -> None:
    context = {"subscriber": {"name": "Ada", "attributes": {"city": "London"}}}
    with pytest.raises(ValidationError) as raised:
        slots.compile_source(source, SlotTable(), kind=Kind.BODY).render(context)
    assert message in raised.value.message


def test_output_is_capped() -> None:
    source = "{% for i in range(1000) %}{% for j in range(90) %}{{ big }}{% endfor %}{% endfor %}"
    template = templates.environment().from_string(source)
    with pytest.raises(ValidationError, match="more than"):
        templates.render(template, {"big": "x" * 1000})


def test_validate_reports_each_problem_on_its_line() -> None:
    source = ("<p>{{ subscriber.name }}</p>\n"
              "<p>{{ subscriber.nmae }}</p>\n"
              "<p>{{ campaign.title }}</p>\n"
              "<p>{{ unknown_thing }}</p>\n"
              "<p>{{ subscriber.name|shout }}</p>\n"
              "{% if subscriber.name is weird %}{% endif %}\n"
              "<p>{{ subscriber.attributes.anything }} {{ subscriber.attribs['x'] }}</p>\n")
    problems = templates.validate(source)
    found = {(p.line, p.message.split(" (")[0]) for p in problems}
    assert found == {
        (2, "subscriber has no field 'nmae'"),
        (3, "campaign has no field 'title'"),
        (4, "Unknown variable 'unknown_thing'"),
        (5, "Unknown filter 'shout'."),
        (6, "Unknown test 'weird'."),
    }


def test_validate_reports_syntax_errors_with_their_line() -> None:
    problems = templates.validate("<p>ok</p>\n<p>ok</p>\n{% if subscriber.name %}\n<p>x</p>\n")
    assert len(problems) == 1
    assert problems[0].line >= 3
    assert "endif" in problems[0].message or "end of template" in problems[0].message
    assert templates.validate("{{ }}")[0].line == 1


def test_validate_knows_what_each_kind_of_template_may_use() -> None:
    assert templates.validate("{{ content }} {{ footer }}", kind=Kind.LAYOUT) == []
    assert templates.validate("{{ content }}", kind=Kind.BODY)
    assert templates.validate("<p>{{ footer }}</p>", kind=Kind.LAYOUT)[0].message.startswith(
        "A layout must place")
    assert templates.validate("Hi {{ subscriber.first_name }}", kind=Kind.SUBJECT) == []


def test_loops_macros_and_local_names_are_fine() -> None:
    source = ("{% macro item(x) %}<li>{{ x }}</li>{% endmacro %}"
              "{% for list in lists %}{{ item(list.name) }}{{ loop.index }}{% endfor %}"
              "{% set greeting = 'Hi' %}{{ greeting }} {% with n = 3 %}{{ n }}{% endwith %}")
    assert templates.validate(source) == []
    compiled = slots.compile_source(source, SlotTable(), kind=Kind.BODY)
    assert not compiled.per_reader
    output = compiled.render({"lists": [{"name": "A & B"}]})
    assert output == "<li>A &amp; B</li>1Hi 3"


@pytest.mark.parametrize("source, per_reader", [
    ("Hi {{ subscriber.name }}", False),
    ("Hi {{ subscriber.first_name|default('friend', true)|title }}", False),
    ("<a href='{{ unsubscribe_url }}'>x</a> {{ list.name }}", False),
    ("{{ subscriber.attributes.city }} {{ subscriber.attributes['zip code'] }}", False),
    ("{% for list in lists %}{{ list.name }}{% endfor %}", False),
    ("{% if subscriber.attributes.plan == 'pro' %}Pro{% endif %}", True),
    ("{{ subscriber.name[:3] }}", True),
    ("{{ subscriber.name|truncate(5) }}", True),
    ("{% for l in subscriber.lists %}{{ l }}{% endfor %}", True),
    ("{% set subscriber = campaign %}{{ subscriber.name }}", True),
    ("{% set x = subscriber.name %}{{ x }}", True),
    ("{{ subscriber.attributes.items() }}", True),
])
def test_which_templates_need_each_reader(source: str, per_reader: bool) -> None:
    compiled = slots.compile_source(source, SlotTable(), kind=Kind.BODY)
    assert compiled.per_reader is per_reader


# Slots print exactly what Jinja would --------------------------------------------------

SLOT_EXPRESSIONS = [
    "subscriber.name", "subscriber.first_name", "subscriber.email",
    "subscriber.attributes.city", "subscriber.attributes['city']", "subscriber.attribs.city",
    "subscriber.attributes.missing", "subscriber.attributes.missing.deeper",
    "subscriber.attributes.count", "subscriber.attributes.tags[0]",
    "subscriber.attributes.tags[5]", "subscriber.attributes.none",
    "subscriber.name|upper", "subscriber.name|lower|capitalize", "subscriber.name|title",
    "subscriber.name|trim", "subscriber.name|e", "subscriber.name|escape|upper",
    "subscriber.first_name|default('friend')", "subscriber.first_name|default('friend', true)",
    "subscriber.attributes.missing|default('n/a')", "subscriber.name|urlencode",
    "subscriber.name|striptags", "subscriber.attributes.count|string", "unsubscribe_url",
    "list.name", "list.slug|d('-')",
]
reader_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
                      max_size=20)


@cache
def _slot_cases() -> list[tuple[str, bool, str, slots.Slot, jinja2.Template]]:
    cases = []
    for html in (True, False):
        env = templates.environment(html)
        for expression in SLOT_EXPRESSIONS:
            source = "[{{ " + expression + " }}]"
            table = SlotTable()
            compiled = slots.compile_source(source, table, kind=Kind.BODY if html
                                                else Kind.SUBJECT)
            assert not compiled.per_reader, expression
            (slot,) = table.slots
            cases.append((expression, html, compiled.render({}), slot, env.from_string(source)))
    return cases


@settings(max_examples=40, deadline=None)
@given(name=reader_text, city=reader_text, first=st.sampled_from(["", "Ada", " <b>&"]))
def test_slots_print_what_jinja_prints(name: str, city: str, first: str) -> None:
    scope = {
        "subscriber": {"name": name, "first_name": first, "email": "a&b@example.com",
                       "attributes": {"city": city, "count": 3, "tags": ["x<y"], "none": None},
                       "attribs": {"city": city}},
        "unsubscribe_url": "https://news.example.org/u/abc",
        "list": {"name": f"List & {city}"},
    }
    for expression, html, marked, slot, reference in _slot_cases():
        value = slots.evaluate(slot, scope, templates.environment(html))
        printed = str(Markup.escape(value)) if html else str(value)
        filled = marked.replace(slots.SLOT.search(marked).group(0), printed)  # type: ignore[union-attr]
        assert filled == reference.render(scope), expression


def test_slot_values_for_the_text_part_are_what_the_html_shows() -> None:
    table = SlotTable()
    marked = slots.compile_source("{{ subscriber.name }}|{{ subscriber.name|e }}", table,
                                      kind=Kind.BODY).render({})
    indexes = [int(m.group(1)) for m in slots.SLOT.finditer(marked)]
    text, html = table.values({"subscriber": {"name": "A <b>\n & c"}}, indexes, indexes)
    assert [html[i] for i in indexes] == ["A &lt;b&gt;\n &amp; c"] * 2
    assert [text[i] for i in indexes] == ["A <b> & c"] * 2


def test_marker_characters_in_a_source_are_dropped() -> None:
    compiled = slots.compile_source("a\ue000" + "0\ue001b", SlotTable(), kind=Kind.BODY)
    assert compiled.render({}) == "a0b"


def test_environment_has_no_loader_and_only_capped_globals() -> None:
    env = templates.environment()
    assert env.loader is None
    assert set(env.globals) == {"range"}
    assert env.autoescape is True and templates.environment(False).autoescape is False
    assert isinstance(env, jinja2.sandbox.ImmutableSandboxedEnvironment)
