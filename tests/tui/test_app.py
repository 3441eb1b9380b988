"""Every key path of the TUI, driven by the pilot against a real control plane."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, Static

from tests.engine.conftest import InProcessServer
from tests.tui.waiting import until
from tui.app import Prompt, TugApp
from tui.screens import NodesScreen, QueuesScreen, TableScreen, TextScreen
from tui.table import FastTable


def _node(name: str, gpus: int = 4) -> dict[str, Any]:
    alloc = {"cpu": "8", "memory": "32Gi", "pods": "110", "nvidia.com/gpu": str(gpus)}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"allocatable": alloc, "capacity": alloc,
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "gpus": [{"index": i, "product": "Simulated GPU", "memoryMiB": 16384,
                                 "health": "Healthy", "simulated": True} for i in range(gpus)]}}


def _pod(name: str, ns: str = "default", gpus: int = 0) -> dict[str, Any]:
    res = {"limits": {"nvidia.com/gpu": str(gpus)}} if gpus else {}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["true"],
                                     "resources": res}]}}


def _table(app: TugApp) -> Any:
    """The screen's table: the fast one of a resource screen, else a DataTable (few rows)."""
    fast = app.screen.query(FastTable)
    return fast.first() if fast else (app.screen.query(DataTable).first() if app.screen.query(DataTable)
                                      else None)


def _rows(app: TugApp) -> list[list[str]]:
    table = _table(app)
    if table is None:
        return []  # the screen is still mounting
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def _text(app: TugApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def _type(pilot: Any, text: str) -> None:
    for ch in text:
        await pilot.press({" ": "space", "-": "minus", "/": "slash", "=": "equals_sign",
                           ".": "full_stop", "(": "left_parenthesis", ")": "right_parenthesis",
                           ",": "comma"}.get(ch, ch))


async def test_home_queues_command_line_tables_describe_and_back(api_server: InProcessServer) -> None:
    store = api_server.cp.store
    assert store is not None
    api_server.call(store.create, "nodes", _node("n1"), namespaced=False)
    with api_server.client() as c:
        c.create({"apiVersion": "tugboat.dev/v1", "kind": "Queue", "metadata": {"name": "lab"},
                  "spec": {"quota": {"nvidia.com/gpu": "2"}}})
        c.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
        c.create(_pod("alpha"))
        c.create(_pod("beta", ns="team"))
    app = TugApp(api_server.client())
    async with app.run_test(size=(160, 48)) as pilot:
        assert isinstance(app.screen, QueuesScreen)
        await until(lambda: "lab" in _text(app, "#queues"))
        assert "nvidia.com/gpu" in _text(app, "#queues") and "0/2" in _text(app, "#queues")
        await until(lambda: "  connected" in _text(app, "#header"))  # not "disconnected"
        assert "nodes 1  GPUs 4" in _text(app, "#header")

        await pilot.press("colon")
        assert isinstance(app.screen, Prompt)
        await _type(pilot, "po")
        await pilot.press("enter")
        assert isinstance(app.screen, TableScreen) and app.screen.resource == "pods"
        rows = await until(lambda: _rows(app))
        assert [r[0] for r in rows] == ["alpha"]  # the default namespace only
        assert _table(app).headers == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                                       "NOMINATED NODE", "READINESS GATES"]  # kubectl's -o wide

        await pilot.press("0")  # all namespaces, as k9s
        await until(lambda: len(_rows(app)) == 2)
        assert [r[:2] for r in _rows(app)] == [["default", "alpha"], ["team", "beta"]]

        await pilot.press("slash")
        await _type(pilot, "bet")
        await pilot.press("enter")
        await until(lambda: [r[1] for r in _rows(app)] == ["beta"])

        await pilot.press("d")
        await until(lambda: isinstance(app.screen, TextScreen))
        described = _text(app, "#text")
        assert "Name:" in described and "beta" in described and "Namespace:" in described
        await pilot.press("escape")
        assert isinstance(app.screen, TableScreen)
        await pilot.press("y")
        assert isinstance(app.screen, TextScreen) and "kind: Pod" in _text(app, "#text")
        await pilot.press("escape")

        with api_server.client() as c:  # live: a pod created now shows up without a key press
            c.create(_pod("gamma", ns="team"))
        await pilot.press("slash")
        for _ in range(3):
            await pilot.press("backspace")
        await pilot.press("enter")
        await until(lambda: "gamma" in [r[1] for r in _rows(app)])

        await pilot.press("colon")
        await _type(pilot, "nod")
        await pilot.press("right")  # completion: the suggested name
        assert app.screen.query_one("#prompt-input").value == "node"
        await pilot.press("enter")
        assert isinstance(app.screen, NodesScreen)
        rows = await until(lambda: _rows(app))
        assert rows[0][:2] == ["n1", "Ready"]
        assert [r[0].strip() for r in rows[1:]] == [f"gpu {i}" for i in range(4)]
        assert all("simulated" in r[2].lower() and "n/a" in r[3] for r in rows[1:])

        await pilot.press("question_mark")
        assert isinstance(app.screen, TextScreen) and "ctrl-d" in _text(app, "#text")
        for _ in range(5):
            await pilot.press("escape")
        assert isinstance(app.screen, QueuesScreen)  # esc stops at home


async def test_delete_asks_first_and_readonly_refuses(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.create(_pod("victim"))
    for readonly in (True, False):
        app = TugApp(api_server.client(), readonly=readonly)
        shown = (lambda a: lambda: [r[0] for r in _rows(a)])(app)
        async with app.run_test(size=(120, 40)) as pilot:
            app.run_command("pods")
            await until(shown)
            await pilot.press("ctrl+d")
            if readonly:
                await pilot.pause()
                assert not isinstance(app.screen, Prompt)
                assert any("read-only" in str(n.message) for n in app._notifications)
                continue
            assert isinstance(app.screen, Prompt)
            await pilot.press("n", "enter")  # anything but y keeps it
            await pilot.pause()
            assert shown() == ["victim"]
            await pilot.press("ctrl+d")
            await pilot.press("y", "enter")
            await until(lambda s=shown: s() == [])
    with api_server.client() as c:
        assert [p["metadata"]["name"] for p in c.list("pods")["items"]] == []


async def test_a_lost_control_plane_keeps_the_data_and_says_so(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.create(_pod("stays"))
    app = TugApp(api_server.client())
    async with app.run_test(size=(120, 40)) as pilot:
        app.run_command("po")
        await until(lambda: _rows(app))
        api_server.close()
        await until(lambda: "disconnected — retrying" in _text(app, "#header"))
        assert [r[0] for r in _rows(app)] == ["stays"]  # the last data stays on screen
        await pilot.press("colon")
        await _type(pilot, "nosuchkind")
        await pilot.press("enter")
        assert any("nosuchkind" in str(n.message) for n in app._notifications)


def _job(name: str, *, gpus: int = 1, queue: str | None = None, completions: int = 1) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if queue:
        meta["labels"] = {"tugboat.dev/queue": queue}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
            "spec": {"completions": completions, "parallelism": 1, "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "60"],
                                "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]}}}}


async def test_job_lens_trigger_scale_sort_and_what_is_not_built(api_server: InProcessServer) -> None:
    store = api_server.cp.store
    assert store is not None
    api_server.call(store.create, "nodes", _node("n1", gpus=2), namespaced=False)
    with api_server.client() as c:
        c.create({"apiVersion": "tugboat.dev/v1", "kind": "Queue", "metadata": {"name": "lab"},
                  "spec": {"quota": {"nvidia.com/gpu": "1"}}})
        c.create(_job("first", queue="lab"))
        until_admitted = lambda: (c.get("jobs", "first")["metadata"].get("annotations") or {}).get(  # noqa: E731
            "tugboat.dev/admission") == "Admitted"
        await until(until_admitted)
        c.create(_job("second", queue="lab"))
        c.create({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
                  "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                      "restartPolicy": "Never",
                      "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}}}}})
    app = TugApp(api_server.client())
    async with app.run_test(size=(160, 48)) as pilot:
        app.run_command("jobs")
        await until(lambda: sorted(r[0] for r in _rows(app)) == ["first", "second"])
        table = _table(app)
        second = [r[0] for r in _rows(app)].index("second")
        table.move_cursor(row=second)
        await pilot.press("enter")  # the job lens
        await until(lambda: app.screen.__class__.__name__ == "JobLens")
        lens = await until(lambda: "waiting: position 1" in _text(app, "#lens") and _text(app, "#lens"))
        assert "queue lab" in lens and "lab is at its quota" in lens
        await pilot.press("escape")
        table = _table(app)
        first = [r[0] for r in _rows(app)].index("first")
        table.move_cursor(row=first)
        await pilot.press("enter")
        lens = await until(lambda: "active" in _text(app, "#lens") and _text(app, "#lens"))
        assert "succeeded 0" in lens
        pods = await until(lambda: _rows(app))
        assert pods[0][0].startswith("first-") and pods[0][2] == "n1" and pods[0][3] in ("0", "1")
        await pilot.press("escape")

        table = _table(app)
        table.move_cursor(row=[r[0] for r in _rows(app)].index("second"))
        await pilot.press("s")  # scale a Job's parallelism
        assert isinstance(app.screen, Prompt)
        await pilot.press("3", "enter")
        with api_server.client() as c:
            await until(lambda: c.get("jobs", "second")["spec"]["parallelism"] == 3)

        await pilot.press("o")  # sort by the first column, then the other way
        await until(lambda: [r[0] for r in _rows(app)] == ["first", "second"])
        await pilot.press("o")
        await until(lambda: [r[0] for r in _rows(app)] == ["second", "first"])

        await pilot.press("r")  # a Job has no rollout
        assert any("r restarts a Deployment's pods" in str(n.message) for n in app._notifications)

        app.run_command("cj")
        await until(lambda: [r[0] for r in _rows(app)] == ["nightly"])
        await pilot.press("t")  # trigger now
        with api_server.client() as c:
            made = await until(lambda: [j for j in c.list("jobs")["items"]
                                        if j["metadata"]["name"].startswith("nightly-manual-")])
        assert made[0]["metadata"]["ownerReferences"][0]["name"] == "nightly"
        assert made[0]["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"


async def test_readonly_turns_off_every_key_that_changes_something(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.create(_job("kept", gpus=0))
    app = TugApp(api_server.client(), readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        app.run_command("jobs")
        await until(lambda: _rows(app))
        for key in ("s", "e", "ctrl+d", "ctrl+k"):
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, Prompt), key
        assert sum("read-only" in str(n.message) for n in app._notifications) == 4
        assert "read-only" in _text(app, "#header")
    with api_server.client() as c:
        assert c.get("jobs", "kept")["spec"]["parallelism"] == 1


async def test_a_node_opens_its_pods_in_every_namespace_and_crumbs_say_where(
        api_server: InProcessServer) -> None:
    store = api_server.cp.store
    assert store is not None
    for name in ("n1", "n2"):
        api_server.call(store.create, "nodes", _node(name, gpus=1), namespaced=False)
    with api_server.client() as c:
        c.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
        for name, ns, node in (("on-one", "default", "n1"), ("also-one", "team", "n1"),
                               ("on-two", "default", "n2")):
            pod = _pod(name, ns=ns)
            pod["spec"]["nodeName"] = node  # bound at create
            pod["metadata"]["labels"] = {"app": name}
            c.create(pod)
    app = TugApp(api_server.client())
    async with app.run_test(size=(160, 48)) as pilot:
        app.run_command("no")
        rows = await until(lambda: len(_rows(app)) == 4 and _rows(app))
        assert [r[0].strip() for r in rows] == ["n1", "gpu 0", "n2", "gpu 0"]
        _table(app).move_cursor(row=1)  # n1's GPU: its node's pods
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, TableScreen))
        rows = await until(lambda: _rows(app))
        assert sorted((r[0], r[1]) for r in rows) == [("default", "on-one"), ("team", "also-one")]
        assert "queues › nodes › pods (all namespaces) spec.nodeName=n1" in _text(app, "#header")
        await pilot.press("d")
        await until(lambda: isinstance(app.screen, TextScreen))
        assert "spec.nodeName=n1 › describe pods/" in _text(app, "#header")
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, NodesScreen)

        app.run_command("po")  # the app's namespace again: default
        await until(lambda: sorted(r[0] for r in _rows(app)) == ["on-one", "on-two"])
        await pilot.press("slash")
        await _type(pilot, "-l app in (on-two,x)")
        await pilot.press("enter")
        await until(lambda: [r[0] for r in _rows(app)] == ["on-two"])
        await pilot.press("slash")
        await _type(pilot, "-l app in (")  # (typing replaces the filter shown) does not parse
        await pilot.press("enter")
        await until(lambda: any("selector" in str(n.message) for n in app._notifications))
        assert [r[0] for r in _rows(app)] == ["on-two"]  # the last good filter stays


async def test_a_long_table_makes_its_filter_cells_in_the_background_and_the_covered_home_waits(
        api_server: InProcessServer, monkeypatch: Any) -> None:
    from tui import screens
    monkeypatch.setattr(screens, "WARM_FROM", 3)  # "long" here: three rows, not hundreds
    with api_server.client() as c:
        for name in ("a", "b", "c", "d"):
            c.create(_pod(name))
    app = TugApp(api_server.client(), start="pods")
    async with app.run_test(size=(120, 30)) as pilot:
        await until(lambda: isinstance(app.screen, TableScreen) and len(_rows(app)) == 4)
        screen = app.screen
        assert isinstance(screen, TableScreen)
        await until(lambda: len(screen._cache) == 4)  # no `/` typed: made by the warm-up
        assert sorted(cells[0] for _, (cells, _) in screen._cache.values()) == ["a", "b", "c", "d"]
        assert "queues" not in app._feeds  # the home under :pods follows nothing until shown
        await pilot.press("escape")
        assert isinstance(app.screen, QueuesScreen)
        await until(lambda: "queues" in app._feeds)


async def test_the_key_bar_is_not_rebuilt_when_a_prompt_closes_over_the_same_keys(
        api_server: InProcessServer) -> None:
    from textual.widgets._footer import FooterKey
    app = TugApp(api_server.client(), start="pods")
    async with app.run_test(size=(160, 30)) as pilot:
        await until(lambda: isinstance(app.screen, TableScreen) and app.screen.query(FooterKey))
        before = list(app.screen.query(FooterKey))
        assert "Describe" in [k.description for k in before]
        await pilot.press("slash", "x", "enter")
        await until(lambda: isinstance(app.screen, TableScreen) and app.screen.text_filter == "x")
        await pilot.pause()
        assert list(app.screen.query(FooterKey)) == before  # the same widgets, not new ones
        app.run_command("no")
        await until(lambda: isinstance(app.screen, NodesScreen) and app.screen.query(FooterKey))
        assert "Describe" not in [k.description for k in app.screen.query(FooterKey)]


async def test_a_deployment_opens_its_pods_scales_and_restarts(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}},
                                        "spec": {"containers": [{"name": "c", "image": "busybox",
                                                                 "command": ["sleep", "60"]}]}}}})
        c.create(_pod("bystander"))
    app = TugApp(api_server.client(), start="deploy")
    async with app.run_test(size=(160, 40)) as pilot:
        await until(lambda: [r[0] for r in _rows(app)] == ["web"])
        await pilot.press("enter")  # its pods, by its selector
        await until(lambda: isinstance(app.screen, TableScreen) and app.screen.resource == "pods"
                    and len(_rows(app)) == 2)
        assert all(r[0].startswith("web-") for r in _rows(app))
        assert "-l app=web" in _text(app, "#header")
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, TableScreen) and app.screen.resource == "deployments")
        await pilot.press("s")
        assert isinstance(app.screen, Prompt)
        await pilot.press("3", "enter")
        with api_server.client() as c:
            await until(lambda: c.get("deployments", "web")["spec"]["replicas"] == 3)
            await until(lambda: [r[0] for r in _rows(app)] == ["web"])
            await pilot.press("r")
            def restarted_at() -> str | None:
                meta = c.get("deployments", "web")["spec"]["template"]["metadata"]
                return (meta.get("annotations") or {}).get("kubectl.kubernetes.io/restartedAt")
            restarted = await until(restarted_at)
            assert restarted.endswith("Z")
            await until(lambda: len(c.list("replicasets")["items"]) == 2)  # a rollout followed


async def test_many_screens_each_load_and_keys_still_answer(api_server: InProcessServer) -> None:
    """Each resource's feed runs on a thread of its own: a dozen screens opened one after
    another all load (Textual's thread workers share a pool of cpu + 4 threads)."""
    with api_server.client() as c:
        c.create(_pod("p1"))
    app = TugApp(api_server.client())
    async with app.run_test(size=(120, 30)) as pilot:
        kinds = ["po", "jobs", "cj", "deploy", "rs", "ev", "svc", "ns", "no", "cm", "pvc", "ing", "hpa"]
        for kind in kinds:
            app.run_command(kind)
            await until(lambda: isinstance(app.screen, (TableScreen, NodesScreen))
                        and all(r in app._feeds and app._feeds[r].snapshot().connected
                                for r in app.screen.resources))
        assert len(app._feeds) >= len(kinds)
        app.run_command("po")
        await until(lambda: [r[0] for r in _rows(app)] == ["p1"])
        await pilot.press("d")  # a request worker still gets a thread
        await until(lambda: isinstance(app.screen, TextScreen))
        await pilot.press("escape")
        await pilot.press("slash", "x", "enter")  # esc clears a filter before it goes back
        await until(lambda: isinstance(app.screen, TableScreen) and app.screen.text_filter == "x"
                    and _rows(app) == [])
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, TableScreen) and app.screen.text_filter == ""
                    and [r[0] for r in _rows(app)] == ["p1"])


async def test_help_lists_the_keys_of_the_screen_it_was_asked_on(api_server: InProcessServer) -> None:
    app = TugApp(api_server.client(), start="pods")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: isinstance(app.screen, TableScreen))
        await pilot.press("question_mark")
        help_ = await until(lambda: isinstance(app.screen, TextScreen) and app.screen)
        here = help_.text.split("\n\n")[0]
        assert here.startswith("keys of this screen (pods")
        for key, what in (("d", "Describe"), ("^d", "Delete"), ("↓", "Row down"), ("?", "Help")):
            lines = here.splitlines()[1:]
            assert any(line.split()[:1] == [key] and what in line for line in lines), (key, here)
        assert "tugboat — keys" in help_.text  # then every key of the app
        await pilot.press("escape")
        app.run_command("no")
        await until(lambda: isinstance(app.screen, NodesScreen))
        await pilot.press("question_mark")
        help_ = await until(lambda: isinstance(app.screen, TextScreen) and app.screen)
        here = help_.text.split("\n\n")[0]
        assert here.startswith("keys of this screen (nodes") and "Row down" in here
        assert "Trigger" not in here  # a resource table's key, not this screen's


async def test_a_feed_change_before_a_new_screen_is_composed_waits(api_server: InProcessServer) -> None:
    # A watch event can land between pushing a screen and its compose (CI hit this once: NoMatches
    # 'Header' from the tick); that screen is drawn when it is mounted, and the tick skips it until then.
    with api_server.client() as c:
        c.create(_job("early"))
    app = TugApp(api_server.client())
    async with app.run_test(size=(160, 48)):
        await until(lambda: app.screen.is_mounted and isinstance(app.screen, QueuesScreen))
        app.run_command("jobs")
        pushed = app.screen
        assert isinstance(pushed, TableScreen) and not pushed.is_mounted
        app._seen = {}  # as if a feed had changed since the last tick
        app._tick()  # the old tick raised NoMatches here
        await until(lambda: [r[0] for r in _rows(app)] == ["early"])
        assert app.screen is pushed
