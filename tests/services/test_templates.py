"""Layout templates: validated before saving, one default, no deleting what is in use."""

from __future__ import annotations

import pytest

from tidings.bootstrap import Runtime
from tidings.domain.errors import Conflict, ValidationError
from tidings.domain.lists import OptIn
from tidings.mail.campaign import layout_source
from tidings.services import campaigns, lists, templates

GOOD = """<html><body>
<h1>{{ publisher.name }}</h1>
{{ content }}
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
{{ footer }}
</body></html>"""


def test_the_default_layout_is_seeded_once(runtime: Runtime) -> None:
    found = templates.all_templates(runtime.db)
    assert [(t.name, t.is_default) for t in found] == [("Default", True)]
    assert found[0].body == layout_source("default")
    assert templates.all_templates(runtime.db) == found


def test_create_edit_and_choose_the_default(runtime: Runtime) -> None:
    db = runtime.db
    created = templates.create(db, name="Plain", body=GOOD)
    assert not created.is_default
    assert templates.set_default(db, created.uid).is_default
    defaults = [t.name for t in templates.all_templates(db) if t.is_default]
    assert defaults == ["Plain"]
    lists.create(db, slug="news", name="News", optin=OptIn.SINGLE)
    draft = campaigns.create(db, name="c", subject="s", body="b", lists=["news"])
    assert draft.template_id == created.id  # new campaigns take the default
    renamed = templates.update(db, created.uid, name="Plain 2", body=GOOD + "\n")
    assert (renamed.name, renamed.body) == ("Plain 2", GOOD + "\n")


@pytest.mark.parametrize(("source", "line", "words"), [
    ("<p>\n{{ content }\n</p>", 2, "unexpected"),
    ("<p>{{ content }}</p>\n\n{% include 'other.html' %}", 3, "include"),
    ("{{ content }}\n{% extends 'base.html' %}", 2, "extends"),
    ("{{ content }}\n{{ ''.__class__.__mro__ }}", 2, "_"),
    ("{{ content }}\n\n{{ cycler.__init__.__globals__ }}", 3, "cycler"),
    ("{{ content }}\n{{ subscriber.password }}", 2, "password"),
    ("{{ content }}\n{{ content | safe }}", 2, "safe"),
    ("<p>no content here</p>", 1, "content"),
])
def test_invalid_or_escaping_layouts_are_refused_by_line(runtime: Runtime, source: str,
                                                        line: int, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        templates.create(runtime.db, name="Bad", body=source)
    problems = caught.value.details["problems"]
    assert problems[0]["line"] == line, problems
    assert words in caught.value.message.lower()
    assert f"line {line}" in caught.value.message
    assert [t.name for t in templates.all_templates(runtime.db)] == ["Default"]


@pytest.mark.parametrize("source", [
    "{{ content }}{% for i in range(100) %}{% for j in range(100) %}{% for k in range(100) %}"
    "x{% endfor %}{% endfor %}{% endfor %}",
    "{{ content }}{{ 'x' * 10000000 }}",
    "{{ content }}{{ content }}",
    "{{ content }}\n{{ '{}'.format(subscriber) }}",
])
def test_layouts_that_fail_when_rendered_are_refused(runtime: Runtime, source: str) -> None:
    with pytest.raises(ValidationError):
        templates.create(runtime.db, name="Heavy", body=source)


def test_editing_keeps_a_template_valid(runtime: Runtime) -> None:
    created = templates.create(runtime.db, name="Plain", body=GOOD)
    with pytest.raises(ValidationError):
        templates.update(runtime.db, created.uid, body="{% include 'x' %}")
    assert templates.get(runtime.db, created.uid).body == GOOD


def test_templates_in_use_or_default_are_not_deleted(runtime: Runtime) -> None:
    db = runtime.db
    lists.create(db, slug="news", name="News", optin=OptIn.SINGLE)
    used = templates.create(db, name="Used", body=GOOD)
    spare = templates.create(db, name="Spare", body=GOOD)
    campaigns.create(db, name="c", subject="s", body="b", lists=["news"], template_id=used.id)
    with pytest.raises(Conflict, match="in use"):
        templates.delete(db, used.uid)
    default = next(t for t in templates.all_templates(db) if t.is_default)
    with pytest.raises(Conflict, match="default"):
        templates.delete(db, default.uid)
    templates.delete(db, spare.uid)
    assert sorted(t.name for t in templates.all_templates(db)) == ["Default", "Used"]
