"""The manifest reader as hostile input: nesting past a depth, aliases that expand past a bound
and keys given twice are one-line errors naming the document and line (and the key's path),
before anything is built; what real manifests use (anchors, merge keys, lists) still reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.api.manifests import MAX_DEPTH, MAX_NODES, load_documents
from engine.errors import BadRequestError

from .test_cli import tug


def _refused(text: str) -> str:
    with pytest.raises(BadRequestError) as err:
        load_documents(text, source="m.yaml")
    return err.value.message


def _bomb(levels: int) -> str:
    """The billion laughs: each level names the one before nine times (9**levels values)."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("text", "said"), [
    ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n",
     'm.yaml: document 1, line 5: metadata.name: duplicate field "name" (first given on line 4)'),
    ("kind: Pod\nspec:\n  containers:\n  - name: a\n    image: x\n  - name: b\n    image: y\n    image: z\n",
     'm.yaml: document 1, line 8: spec.containers[1].image: duplicate field "image" (first given on line 7)'),
    ('{"kind": "ConfigMap", "data": {"k": "1", "k": "2"}}',  # JSON is read the same way
     'm.yaml: document 1, line 1: data.k: duplicate field "k" (first given on line 1)'),
    ("kind: A\n---\nkind: B\nmetadata: {name: x}\nkind: C\n",
     'm.yaml: document 2, line 5: kind: duplicate field "kind" (first given on line 3)'),
    ("kind: List\nitems:\n- {kind: A}\n- {kind: B, kind: C}\n",
     'm.yaml: document 1, line 4: items[1].kind: duplicate field "kind" (first given on line 4)'),
    ("metadata:\n  annotations:\n    x.io/a: '1'\n    x.io/a: '2'\n",
     'm.yaml: document 1, line 4: metadata.annotations.x.io/a: duplicate field "x.io/a" '
     '(first given on line 3)'),
    ("? [a, b]\n: 1\n", "m.yaml: document 1, line 1: the document: a key must be a plain value"),
])
def test_what_a_manifest_cannot_hold_is_named(text: str, said: str) -> None:
    assert _refused(text) == said


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 10_000])
def test_nesting_past_the_depth_is_refused_without_recursing(depth: int) -> None:
    flow = "a: " + "[" * depth + "]" * depth + "\n"
    lines = min(depth, 1000)
    block = "".join("  " * i + f"k{i}:\n" for i in range(lines)) + "  " * lines + "v\n"
    for text in (flow, block):
        assert f"it nests deeper than {MAX_DEPTH} levels" in _refused(text)
    at_limit = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert load_documents(at_limit, source="m")  # the limit itself is fine


def test_an_alias_bomb_is_refused_before_it_expands() -> None:
    said = _refused(_bomb(9))  # 387,420,489 values once expanded (30 s and a MemoryError before)
    assert said.startswith("m.yaml: document 1, line ")
    assert f"its aliases expand to more than {MAX_NODES:,} values" in said
    small = load_documents(_bomb(3), source="m")  # 729 values: fine
    assert len(small[0]["l2"]) == 9


def test_anchors_merge_keys_and_repeats_in_other_mappings_still_read() -> None:
    text = ("defaults: &d {image: busybox, imagePullPolicy: IfNotPresent}\n"
            "containers:\n- <<: *d\n  name: a\n- <<: *d\n  name: b\n  image: alpine\n"
            "env: [{name: X}, {name: X}]\n")  # the same key in two mappings is not a repeat
    [doc] = load_documents(text, source="m")
    assert doc["containers"][1] == {"image": "alpine", "imagePullPolicy": "IfNotPresent", "name": "b"}
    assert doc["containers"][0]["image"] == "busybox"


def test_tug_apply_says_it_in_one_line(tmp_path: Path) -> None:
    cases = {"bomb.yaml": _bomb(9), "deep.yaml": "a: " + "[" * 10_000 + "]" * 10_000 + "\n",
             "twice.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n"}
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        out = tug(tmp_path / "home", "apply", "-f", str(path))
        assert out.returncode == 1, out
        assert "Traceback" not in out.stderr and "MemoryError" not in out.stderr
        assert out.stderr.startswith(f"error: {path}: document 1, line "), out.stderr
        assert out.stderr.count("\n") == 1
