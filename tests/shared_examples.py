"""The Kubernetes docs examples in the shared folder: `shared/k8s-examples` beside the
repository (where CI lays it), or the folder $TUG_K8S_EXAMPLES names. A clone on its own has
neither; the tests of that corpus then skip, saying so, and nothing else needs it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _where() -> Path:
    given = os.environ.get("TUG_K8S_EXAMPLES")
    return Path(given) if given else REPO.parent / "shared" / "k8s-examples"


WHERE = _where()
EXAMPLES = WHERE if WHERE.is_dir() and any(WHERE.glob("*.yaml")) else None
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml")) if EXAMPLES else []
MISSING = (f"the shared Kubernetes docs examples are not at {WHERE} (a clone without the shared "
           f"folder beside it; TUG_K8S_EXAMPLES may name their folder)")
needs_examples = pytest.mark.skipif(EXAMPLES is None, reason=MISSING)
