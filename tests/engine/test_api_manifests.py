"""Loading manifests: multi-document YAML and JSON, Lists, files, directories and stdin."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from engine.api import load_documents, read_manifests
from engine.errors import BadRequestError
from tests.shared_examples import EXAMPLE_FILES, EXAMPLES, needs_examples

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n"


def test_multi_document_skips_empty() -> None:
    text = (
        "---\n" + POD.format(name="a") + "---\n---\n# only a comment\n---\n" + POD.format(name="b")
    )
    docs = load_documents(text, source="x.yaml")
    assert [d["metadata"]["name"] for d in docs] == ["a", "b"]


def test_json_is_yaml() -> None:
    docs = load_documents(
        '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"}}', source="p.json"
    )
    assert docs == [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"}}]


def test_json_in_yaml_with_leading_separator() -> None:
    text = '---\n{\n  apiVersion: "batch/v1",\n  kind: "Job",\n  metadata: {name: "j",},\n}\n'
    assert load_documents(text, source="j.yaml")[0]["kind"] == "Job"


def test_list_is_expanded() -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n"
        "---\n" + POD.format(name="c")
    )
    docs = load_documents(text, source="l.yaml")
    assert [d["metadata"]["name"] for d in docs] == ["a", "b", "c"]


def test_typed_list_is_expanded() -> None:
    text = "apiVersion: v1\nkind: PodList\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}}\n"
    assert load_documents(text, source="l.yaml")[0]["kind"] == "Pod"


def test_empty_list_and_empty_text() -> None:
    assert load_documents("apiVersion: v1\nkind: List\nitems: []\n", source="x") == []
    assert load_documents("", source="x") == []


def test_timestamps_stay_strings() -> None:
    text = POD.format(name="a") + "  creationTimestamp: 2024-01-01T00:00:00Z\n"
    doc = load_documents(text, source="x")[0]
    assert doc["metadata"]["creationTimestamp"] == "2024-01-01T00:00:00Z"


def test_syntax_error_names_source_and_line() -> None:
    text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n"
    with pytest.raises(BadRequestError) as info:
        load_documents(text, source="bad.yaml")
    message = str(info.value)
    assert message.startswith("bad.yaml: YAML syntax error at line")
    assert "line 5" in message or "line 4" in message


def test_tab_indentation_error() -> None:
    with pytest.raises(BadRequestError, match=r"^t.yaml: YAML syntax error at line 3"):
        load_documents("a: 1\nb:\n\t- c\n", source="t.yaml")


@pytest.mark.parametrize(
    ("text", "what"),
    [("- a\n- b\n", "list"), ("just a string\n", "string"), ("42\n", "number")],
)
def test_document_not_a_mapping(text: str, what: str) -> None:
    with pytest.raises(BadRequestError) as info:
        load_documents(POD.format(name="a") + "---\n" + text, source="m.yaml")
    assert str(info.value).startswith(
        f"m.yaml: document 2 is not a mapping of fields (got a {what})"
    )


def test_list_item_not_a_mapping() -> None:
    with pytest.raises(BadRequestError, match=r"items\[1\] is not a mapping"):
        load_documents("kind: List\nitems:\n- {kind: Pod}\n- 3\n", source="m.yaml")


def test_read_file(tmp_path: Path) -> None:
    path = tmp_path / "pods.yaml"
    path.write_text(POD.format(name="a") + "---\n" + POD.format(name="b"))
    pairs = read_manifests(str(path))
    assert [(src, d["metadata"]["name"]) for src, d in pairs] == [
        (str(path), "a"),
        (str(path), "b"),
    ]


def test_read_directory_sorted_not_recursive(tmp_path: Path) -> None:
    (tmp_path / "b.yml").write_text(POD.format(name="b"))
    (tmp_path / "a.yaml").write_text(POD.format(name="a"))
    (tmp_path / "c.json").write_text(
        '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "c"}}'
    )
    (tmp_path / "notes.txt").write_text("not a manifest")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.yaml").write_text(POD.format(name="d"))
    pairs = read_manifests(str(tmp_path))
    assert [d["metadata"]["name"] for _, d in pairs] == ["a", "b", "c"]
    assert pairs[0][0] == str(tmp_path / "a.yaml")


def test_read_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(BadRequestError, match="no manifests found"):
        read_manifests(str(tmp_path))


def test_read_stdin() -> None:
    pairs = read_manifests("-", stdin=io.StringIO(POD.format(name="s")))
    assert pairs == [("<stdin>", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "s"}})]


def test_read_missing_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(BadRequestError) as info:
        read_manifests(missing)
    assert str(info.value) == f'the path "{missing}" does not exist'


def test_error_in_second_file_names_it(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(POD.format(name="a"))
    (tmp_path / "b.yaml").write_text("key: [oops\n")
    with pytest.raises(BadRequestError, match=r"b\.yaml: YAML syntax error"):
        read_manifests(str(tmp_path))


@needs_examples
@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_examples_load(path: Path) -> None:
    pairs = read_manifests(str(path))
    assert len(pairs) == 1
    assert {"apiVersion", "kind", "metadata", "spec"} <= set(pairs[0][1])


@needs_examples
def test_examples_directory() -> None:
    pairs = read_manifests(str(EXAMPLES))
    assert len(pairs) == len(EXAMPLE_FILES)
