"""Label and field selectors: the string syntax, LabelSelector objects, matching, printing."""

from __future__ import annotations

import pytest

from engine.errors import BadRequestError
from engine.labels import (
    parse_field_selector,
    parse_selector,
    selector_from_label_selector,
    selector_from_labels,
)

LABELS = {"app": "web", "tier": "front", "env": "prod"}


@pytest.mark.parametrize("text, labels, expected", [
    ("", LABELS, True),
    ("", None, True),
    ("app=web", LABELS, True),
    ("app==web", LABELS, True),
    ("app=db", LABELS, False),
    ("app!=db", LABELS, True),
    ("missing!=x", LABELS, True),
    ("app!=web", LABELS, False),
    ("env in (prod,staging)", LABELS, True),
    ("env in (dev)", LABELS, False),
    ("missing in (x)", LABELS, False),
    ("env notin (dev,staging)", LABELS, True),
    ("env notin (prod)", LABELS, False),
    ("missing notin (x)", LABELS, True),
    ("tier", LABELS, True),
    ("missing", LABELS, False),
    ("!missing", LABELS, True),
    ("!tier", LABELS, False),
    ("app=web,tier=front,env in (prod)", LABELS, True),
    ("app=web,tier=back", LABELS, False),
    (" app = web , env  in(prod, x) ,! missing ", LABELS, True),
    ("example.com/role=gpu", {"example.com/role": "gpu"}, True),
    ("app=", {"app": ""}, True),
    ("app=web", None, False),
    ("!app", None, True),
])
def test_parse_selector_matches(text: str, labels: dict[str, str] | None, expected: bool) -> None:
    assert parse_selector(text).matches(labels) is expected


@pytest.mark.parametrize("text, bad", [
    ("app=web,=x", "=x"),
    ("app in ()", "app in ()"),
    ("app in (a", "app in (a"),
    ("a b", "a b"),
    ("app=web=x", "app=web=x"),
    ("-bad=x", "-bad"),
    ("app=-bad", "-bad"),
    ("app in (x,-y)", "-y"),
])
def test_parse_selector_errors_name_the_bad_part(text: str, bad: str) -> None:
    with pytest.raises(BadRequestError) as err:
        parse_selector(text)
    assert bad in str(err.value)


def test_selector_prints_in_kubernetes_syntax() -> None:
    text = "a=b,c!=d,e in (x,y),f notin (z),g,!h"
    assert str(parse_selector(text)) == text
    assert str(parse_selector("a==b,e in (y, x)")) == "a=b,e in (x,y)"
    assert parse_selector(str(parse_selector(text))) == parse_selector(text)


def test_label_selector_object() -> None:
    sel = selector_from_label_selector({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "staging"]},
            {"key": "track", "operator": "NotIn", "values": ["canary"]},
            {"key": "tier", "operator": "Exists"},
            {"key": "debug", "operator": "DoesNotExist"},
        ],
    })
    assert sel.matches(LABELS)
    assert not sel.matches({**LABELS, "track": "canary"})
    assert sel.matches({**LABELS, "track": "stable"})
    assert not sel.matches({**LABELS, "debug": "1"})
    assert not sel.matches({"app": "web", "env": "prod"})
    assert str(sel) == "app=web,env in (prod,staging),track notin (canary),tier,!debug"


def test_empty_label_selector_matches_everything_and_none_matches_nothing() -> None:
    assert selector_from_label_selector({}).matches({"a": "b"})
    assert selector_from_label_selector({}).matches(None)
    assert selector_from_label_selector({"matchLabels": {}}).empty()
    assert not selector_from_label_selector(None).matches({"a": "b"})


@pytest.mark.parametrize("expr, field", [
    ({"key": "a", "operator": "Equals", "values": ["x"]}, "operator"),
    ({"key": "a", "operator": "In", "values": []}, "values"),
    ({"key": "a", "operator": "Exists", "values": ["x"]}, "values"),
    ({"key": "", "operator": "Exists"}, "matchExpressions[0]"),
])
def test_label_selector_object_errors(expr: dict[str, object], field: str) -> None:
    with pytest.raises(BadRequestError) as err:
        selector_from_label_selector({"matchExpressions": [expr]})
    assert field in str(err.value)


def test_selector_from_plain_labels() -> None:
    sel = selector_from_labels({"b": "2", "a": "1"})
    assert str(sel) == "a=1,b=2"
    assert sel.matches({"a": "1", "b": "2", "c": "3"})
    assert not sel.matches({"a": "1"})


POD = {
    "metadata": {"name": "p1", "namespace": "default"},
    "spec": {"nodeName": "n1", "hostNetwork": False, "priority": 5},
    "status": {"phase": "Running"},
}


@pytest.mark.parametrize("text, expected", [
    ("", True),
    ("metadata.name=p1", True),
    ("metadata.name==p1", True),
    ("metadata.name=p2", False),
    ("metadata.name!=p2", True),
    ("spec.nodeName=n1,status.phase=Running", True),
    ("spec.nodeName=n1,status.phase!=Running", False),
    ("spec.missing=", True),
    ("spec.missing!=", False),
    ("spec.nodeName!=", True),
    ("spec.hostNetwork=false", True),
    ("spec.priority=5", True),
    ("involvedObject.name=p1", False),
])
def test_field_selector(text: str, expected: bool) -> None:
    assert parse_field_selector(text).matches(POD) is expected


def test_field_selector_escapes_and_prints() -> None:
    obj = {"metadata": {"name": "a,b"}}
    sel = parse_field_selector(r"metadata.name=a\,b")
    assert sel.matches(obj)
    assert str(sel) == r"metadata.name=a\,b"
    assert str(parse_field_selector("status.phase==Running,spec.nodeName!=")) == (
        "status.phase=Running,spec.nodeName!=")


@pytest.mark.parametrize("text, bad", [
    ("metadata.name", "metadata.name"),
    ("=x", "=x"),
    ("metadata..name=x", "metadata..name=x"),
    ("status.phase=Running,oops", "oops"),
])
def test_field_selector_errors(text: str, bad: str) -> None:
    with pytest.raises(BadRequestError) as err:
        parse_field_selector(text)
    assert bad in str(err.value)
