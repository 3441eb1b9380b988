"""Lazily loaded package attributes (PEP 562), so a light client never pays for a heavy
import it does not use: `__getattr__ = lazy_attributes(__name__, {"Name": "module"})`."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_attributes(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that imports `package.<module>` on first use of a name in
    `names` (name -> module) and keeps the value in the package for the next time."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
