"""podFailurePolicy (reference §1.8): the first rule that matches a failed pod decides whether
its failure fails the Job, is ignored, or counts."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def _exit_codes(pod: Obj, container: str | None) -> list[tuple[str, int]]:
    """(container, exit code) of containers terminated with a non-zero code: regular, then init."""
    status = pod.get("status") or {}
    out = []
    for cs in [*(status.get("containerStatuses") or []), *(status.get("initContainerStatuses") or [])]:
        code = ((cs.get("state") or {}).get("terminated") or {}).get("exitCode")
        if code is None or int(code) == 0 or (container and cs.get("name") != container):
            continue
        out.append((str(cs.get("name")), int(code)))
    return out


def match_failure_policy(policy: Obj | None, pod: Obj) -> tuple[str, str]:
    """(action, message) for a failed pod: FailJob, Ignore, Count or FailIndex; Count when no
    rule matches or there is no policy."""
    meta = pod.get("metadata") or {}
    who = f"{meta.get('namespace')}/{meta.get('name')}"
    for i, rule in enumerate((policy or {}).get("rules") or []):
        on_codes = rule.get("onExitCodes")
        if on_codes is not None:
            values = {int(v) for v in on_codes.get("values") or []}
            for name, code in _exit_codes(pod, on_codes.get("containerName")):
                if (code in values) == (on_codes.get("operator") == "In"):
                    return str(rule["action"]), (f"Container {name} for pod {who} failed with exit code "
                                                 f"{code} matching {rule['action']} rule at index {i}")
        for pattern in rule.get("onPodConditions") or []:
            for c in (pod.get("status") or {}).get("conditions") or []:
                want = pattern.get("status") or "True"
                if c.get("type") == pattern.get("type") and c.get("status") == want:
                    return str(rule["action"]), (f"Pod {who} has condition {c['type']} matching "
                                                 f"{rule['action']} rule at index {i}")
    return "Count", ""
