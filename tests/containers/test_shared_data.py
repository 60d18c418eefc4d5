"""One memory and one snapshot store shared by several aios daemons (issue 8).

Two ways, both always run:
- two Podman containers from the image containers/build-image.sh builds without a registry,
  one host directory bind-mounted as their data directory (/var/lib/aios);
- two daemons on the host in two mount namespaces (``unshare --mount``), sharing the state
  directory while each sees its own private tree at the same path (what a container gives).

Each daemon has its own origin. 5,000 ``memory.add`` calls per daemon run at the same time on
one persistent connection each (tests/containers/memory_writer.py); the database must then hold
exactly 10,000 rows, 10,000 full-text rows, pass its integrity checks and split 5,000/5,000 by
origin. A snapshot taken by the first daemon is listed (origin filter included) and restored by
the second, and the restore writes the second one's own tree, never the first one's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from aios.memory import MemoryStore, MemoryType
from harness import BIN, REPO, Daemon, Env, make_env, remove_env

N = 5000
WRITER = Path(__file__).with_name("memory_writer.py")
IMAGE = os.environ.get("AIOS_IMAGE", "localhost/aios:latest")
CONTAINERS_CONF = str(REPO / "containers" / "containers.conf")


# -- shared by both tests --------------------------------------------------------------------
def run_writers_at_once(commands: Sequence[Sequence[str]], timeout: float = 600) -> list[dict[str, Any]]:
    """Start every writer, wait until all are connected, then let them go together."""
    procs = [
        subprocess.Popen(list(c), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            assert line.strip() == '{"ready": true}', f"writer did not connect: {line!r} {p.stderr.read() if p.stderr else ''}"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = []
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            assert p.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def check_writes(results: list[dict[str, Any]]) -> None:
    for r in results:
        assert r["errors"] == [], r["errors"]
        assert r["written"] == N
    # The writers really ran at the same time: each started before the other finished.
    assert max(r["start"] for r in results) < min(r["end"] for r in results), results


def check_shared_db(db: Path, origins: Sequence[str], before: int) -> int:
    """Exactly 2*N new rows, a consistent FTS index, N rows per origin; returns the row count."""
    store = MemoryStore.open(db)
    try:
        total = sum(store.counts().values())
        assert total == before + len(origins) * N
        assert store.fts_count() == total
        assert store.integrity_check() == []
        for origin in origins:
            mine = store.recent(origin=origin, types=[MemoryType.SYSTEM], limit=10 * N)
            assert sum(1 for m in mine if m.metadata.get("writer") == origin) == N, origin
            assert all(m.origin == origin for m in mine)
        return total
    finally:
        store.close()


def row_count(db: Path) -> int:
    if not db.exists():
        return 0
    store = MemoryStore.open(db)
    try:
        return sum(store.counts().values())
    finally:
        store.close()


# -- (b) two daemons, two mount namespaces, one state directory ------------------------------
def namespace_problem() -> str | None:
    if shutil.which("unshare") is None:
        return "unshare is not installed (util-linux)"
    if os.geteuid() != 0:
        return "needs root: each daemon gets a private bind mount in its own mount namespace"
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare --mount cannot create a mount namespace here: {probe.stderr.strip()}"
    return None


class Namespaced:
    """A daemon in its own mount namespace where ``app`` is a bind mount of ``private``."""

    def __init__(self, env: Env, name: str, app: Path, private: Path, recovery_paths: Sequence[Path]) -> None:
        self.env = env
        self.name = name
        self.origin = f"ns-{name}"
        self.run_dir = env.root / f"run-{name}"
        self.run_dir.mkdir()
        self.vars = {
            "AIOS_ORIGIN": self.origin,
            "AIOS_PATHS__RUNTIME_DIR": str(self.run_dir),
            "AIOS_RECOVERY__PATHS": json.dumps([str(p) for p in recovery_paths]),
        }
        argv = [
            "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", 'mount --bind "$1" "$2" && exec "$3"', "sh", str(private), str(app), str(BIN / "aios-runtime"),
        ]
        with open(env.root / "daemon.log", "ab") as log:
            proc = subprocess.Popen(argv, env={**env.env, **self.vars}, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.daemon = Daemon(env, proc)
        self.daemon.socket = self.run_dir / "aios.sock"
        self.daemon.wait_ready()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.env.cli(*args, env={"AIOS_PATHS__RUNTIME_DIR": str(self.run_dir)})

    def cli_json(self, *args: str) -> Any:
        proc = self.cli(*args, "--json")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def writer(self) -> list[str]:
        import sys

        return [sys.executable, str(WRITER), str(self.daemon.socket), str(N), self.origin]


@pytest.fixture
def nsenv() -> Iterator[Env]:
    problem = namespace_problem()
    if problem:
        pytest.skip(problem)
    e = make_env()
    try:
        yield e
    finally:
        remove_env(e)


def test_two_daemons_in_two_mount_namespaces_share_memory_and_snapshots(nsenv: Env) -> None:
    env = nsenv
    # Each namespace mounts its own tree on <root>/ns (as a container has its own root file
    # system), so the configured recovery path <root>/ns/app is one path with two trees behind it.
    ns, tree_a, tree_b = env.root / "ns", env.root / "tree-a", env.root / "tree-b"
    app = ns / "app"
    for d in (ns, tree_a / "app", tree_b / "app"):
        d.mkdir(parents=True)
    (tree_a / "app" / "conf").write_text("from A")
    (tree_b / "app" / "conf").write_text("B's own")
    a = Namespaced(env, "a", ns, tree_a, [app])
    b = Namespaced(env, "b", ns, tree_b, [app])
    try:
        assert a.cli_json("status")["origin"] == "ns-a"
        assert b.cli_json("status")["origin"] == "ns-b"
        db = env.state / "memory.db"
        before = row_count(db)

        results = run_writers_at_once([a.writer(), b.writer()])
        check_writes(results)
        total = check_shared_db(db, ["ns-a", "ns-b"], before)
        # Each daemon sees every row, whoever wrote it.
        assert b.cli_json("status")["memory"]["System"] == total
        hits = b.cli_json("memory", "search", "shared write", "--origin", "ns-a", "--limit", "50")
        assert len(hits) == 50 and {h["origin"] for h in hits} == {"ns-a"}

        snap = a.cli_json("snapshot", "-d", "taken in namespace A")
        assert snap["origin"] == "ns-a" and snap["paths"] == [str(app)]
        (tree_a / "app" / "conf").write_text("A changed after the snapshot")

        listed = {s["id"]: s for s in b.cli_json("snapshots")}
        assert listed[snap["id"]]["origin"] == "ns-a"
        assert snap["id"] in {s["id"] for s in b.cli_json("snapshots", "--origin", "ns-a")}
        assert snap["id"] not in {s["id"] for s in b.cli_json("snapshots", "--origin", "ns-b")}

        report = b.cli_json("restore", snap["id"], "--yes")
        assert [r["path"] for r in report["restored"]] == [str(app)]
        assert report["pre_restore"]
        # B's restore wrote B's tree (what B sees at <root>/ns/app); A's tree and the host's
        # own <root>/ns, outside both namespaces, were not touched.
        assert (tree_b / "app" / "conf").read_text() == "from A"
        assert (tree_a / "app" / "conf").read_text() == "A changed after the snapshot"
        assert list(ns.iterdir()) == []
        pre = {s["id"]: s for s in a.cli_json("snapshots", "--origin", "ns-b")}
        assert pre[report["pre_restore"]]["trigger"] == "pre-restore"
        took = [round(r["end"] - r["start"], 2) for r in results]
        print(f"namespaces: {N} writes each at once took {took} s; {total} rows")
    finally:
        a.daemon.stop()
        b.daemon.stop()
    store = MemoryStore.open(env.state / "memory.db")
    try:
        assert store.integrity_check() == []
    finally:
        store.close()


def test_restore_in_another_daemon_touches_only_its_own_configured_paths(nsenv: Env) -> None:
    env = nsenv
    ns, tree_a, tree_b = env.root / "ns", env.root / "tree-a", env.root / "tree-b"
    for d in (ns, tree_a / "app", tree_b / "app", tree_b / "other"):
        d.mkdir(parents=True)
    (tree_a / "app" / "conf").write_text("from A")
    (tree_b / "app" / "conf").write_text("B's own, not configured in B")
    a = Namespaced(env, "a", ns, tree_a, [ns / "app"])
    b = Namespaced(env, "b", ns, tree_b, [ns / "other"])  # B protects only <root>/ns/other
    try:
        snap = a.cli_json("snapshot", "-d", "A's app")
        proc = b.cli("restore", snap["id"], "--yes", "--json")
        assert (tree_b / "app" / "conf").read_text() == "B's own, not configured in B", proc.stdout
    finally:
        a.daemon.stop()
        b.daemon.stop()


def test_restore_of_a_path_that_is_a_mount_point(nsenv: Env) -> None:
    env = nsenv
    app, tree = env.root / "app", env.root / "tree"
    app.mkdir()
    tree.mkdir()
    (tree / "conf").write_text("before")
    a = Namespaced(env, "a", app, tree, [app])  # <root>/app is a bind mount inside A's namespace
    try:
        snap = a.cli_json("snapshot", "-d", "mount point")
        (tree / "conf").write_text("after")
        proc = a.cli("restore", snap["id"], "--yes", "--json")
        assert proc.returncode == 0, proc.stderr
        assert (tree / "conf").read_text() == "before"
    finally:
        a.daemon.stop()


# -- (a) two Podman containers from the project's own image, one bind-mounted data directory --
def podman_problem() -> str | None:
    if os.geteuid() != 0:
        return "needs root: build-image.sh runs debootstrap and rootful podman"
    for tool, package in (("podman", "podman"), ("runc", "runc"), ("debootstrap", "debootstrap")):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install {package}, or ./dev setup)"
    return None


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", CONTAINERS_CONF)}


def podman(*args: str, input: str | None = None, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["podman", *args], env=podman_env(), input=input, capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"podman {' '.join(args)}: {proc.stderr}"
    return proc


class Container:
    """A running container of the aios image whose daemon uses the shared data directory."""

    def __init__(self, name: str, origin: str) -> None:
        self.name = name
        self.origin = origin

    @classmethod
    def run(cls, name: str, origin: str, data: Path) -> Container:
        podman(
            "run", "-d", "--name", name, "--network", "none",
            "-v", f"{data}:/var/lib/aios",
            "-v", f"{WRITER}:/usr/local/bin/aios-memory-writer:ro",
            "-e", f"AIOS_ORIGIN={origin}",
            "-e", 'AIOS_RECOVERY__PATHS=["/srv/app"]',
            IMAGE,
        )
        return cls(name, origin)

    def sh(self, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.name, "sh", "-c", script, check=check)

    def aios_json(self, *args: str) -> Any:
        proc = podman("exec", self.name, "aios", *args, "--json")
        return json.loads(proc.stdout)

    def wait_ready(self, timeout: float = 30) -> None:
        import time

        deadline = time.monotonic() + timeout
        while True:
            proc = podman("exec", self.name, "aios", "status", "--json", check=False)
            if proc.returncode == 0:
                return
            if time.monotonic() > deadline:
                logs = podman("logs", self.name, check=False)
                raise AssertionError(f"the daemon in {self.name} did not answer: {proc.stderr} {logs.stdout} {logs.stderr}")
            time.sleep(0.2)

    def writer(self) -> list[str]:
        return ["podman", "exec", "-i", self.name, "python3", "/usr/local/bin/aios-memory-writer",
                "/run/aios/aios.sock", str(N), self.origin]


@pytest.fixture(scope="module")
def image() -> str:
    problem = podman_problem()
    if problem:
        pytest.skip(problem)
    # Builds the image on first use (debootstrap + podman import + podman build); a no-op while
    # an image built from the same sources exists.
    build = subprocess.run([str(REPO / "containers" / "build-image.sh")], env=podman_env(),
                           capture_output=True, text=True, timeout=1400)
    assert build.returncode == 0, f"containers/build-image.sh failed:\n{build.stderr[-4000:]}"
    return IMAGE


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_two_containers_share_one_bind_mounted_data_directory(image: str) -> None:
    root = Path(tempfile.mkdtemp(prefix="aios-c", dir="/tmp"))
    data = root / "data"  # the DIRECTORY is shared: memory.db, -wal, -shm, snapshots/
    data.mkdir()
    tag = f"aios-test-{os.getpid()}"
    containers: list[Container] = []
    try:
        a = Container.run(f"{tag}-a", "container-a", data)
        containers.append(a)
        b = Container.run(f"{tag}-b", "container-b", data)
        containers.append(b)
        a.wait_ready()
        b.wait_ready()
        assert a.aios_json("status")["origin"] == "container-a"
        assert b.aios_json("status")["origin"] == "container-b"
        before = row_count(data / "memory.db")

        results = run_writers_at_once([a.writer(), b.writer()])
        check_writes(results)
        total = check_shared_db(data / "memory.db", ["container-a", "container-b"], before)
        assert b.aios_json("status")["memory"]["System"] == total
        hits = b.aios_json("memory", "search", "shared write", "--origin", "container-a", "--limit", "50")
        assert len(hits) == 50 and {h["origin"] for h in hits} == {"container-a"}

        a.sh("mkdir -p /srv/app && printf 'from A' > /srv/app/conf")
        b.sh("mkdir -p /srv/app && printf \"B's own\" > /srv/app/conf")
        snap = a.aios_json("snapshot", "-d", "taken in container A")
        assert snap["origin"] == "container-a" and snap["paths"] == ["/srv/app"]
        a.sh("printf 'A changed after the snapshot' > /srv/app/conf")

        listed = {s["id"]: s for s in b.aios_json("snapshots")}
        assert listed[snap["id"]]["origin"] == "container-a"
        assert snap["id"] in {s["id"] for s in b.aios_json("snapshots", "--origin", "container-a")}
        assert snap["id"] not in {s["id"] for s in b.aios_json("snapshots", "--origin", "container-b")}

        report = b.aios_json("restore", snap["id"], "--yes")
        assert [r["path"] for r in report["restored"]] == ["/srv/app"]
        assert report["pre_restore"]
        # The restore wrote B's own /srv/app; A's stays as A left it.
        assert b.sh("cat /srv/app/conf").stdout == "from A"
        assert a.sh("cat /srv/app/conf").stdout == "A changed after the snapshot"
        pre = {s["id"]: s for s in a.aios_json("snapshots", "--origin", "container-b")}
        assert pre[report["pre_restore"]]["trigger"] == "pre-restore"
        assert (data / "snapshots" / snap["id"]).is_dir()  # the store lives in the shared directory
        store = MemoryStore.open(data / "memory.db")
        try:
            assert store.integrity_check() == []
        finally:
            store.close()
        took = [round(r["end"] - r["start"], 2) for r in results]
        print(f"containers: {N} writes each at once took {took} s; {total} rows")
    finally:
        for c in containers:
            podman("rm", "-f", "-t", "5", c.name, check=False)
        shutil.rmtree(root, ignore_errors=True)


# -- the shipped compose file, run as it is by podman-compose ---------------------------------
@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_the_compose_file_starts_two_containers_that_share_memory_and_snapshots(image: str) -> None:
    compose = BIN / "podman-compose"
    assert compose.exists(), "podman-compose is a dev dependency (./dev setup installs it)"
    root = Path(tempfile.mkdtemp(prefix="aios-compose", dir="/tmp"))
    data = root / "data"
    data.mkdir(mode=0o750)
    prefix = f"aios-compose-{os.getpid()}"
    env = {**podman_env(), "AIOS_SHARED_DIR": str(data), "AIOS_CONTAINER_PREFIX": prefix}
    argv = [str(compose), "-p", prefix, "-f", str(REPO / "containers" / "compose.yaml")]

    def compose_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*argv, *args], env=env, capture_output=True, text=True, timeout=300)

    try:
        up = compose_run("up", "-d")
        assert up.returncode == 0, f"podman-compose up: {up.stdout}{up.stderr}"
        a, b = Container(f"{prefix}-a", "container-a"), Container(f"{prefix}-b", "container-b")
        a.wait_ready()
        b.wait_ready()
        assert a.aios_json("status")["origin"] == "container-a"
        assert b.aios_json("status")["origin"] == "container-b"
        # One memory: what A adds, B finds, with A as its origin.
        added = a.aios_json("memory", "add", "noted in container A through compose")
        hits = b.aios_json("memory", "search", "noted container", "--origin", "container-a")
        assert [h["id"] for h in hits] == [added["id"]]
        # One snapshot store: A's snapshot is listed by B.
        a.sh("mkdir -p /srv/app && printf 'compose' > /srv/app/conf")
        snap = a.aios_json("snapshot", "-d", "compose")
        assert snap["id"] in {s["id"] for s in b.aios_json("snapshots", "--origin", "container-a")}
        # The security_opt in compose.yaml lets bubblewrap start: B runs a jailed command.
        ran = podman("exec", b.name, "aios", "run", "--", "cat", "/proc/self/status")
        assert "NoNewPrivs:\t1" in ran.stdout and "Seccomp:\t2" in ran.stdout
        assert {p.name for p in data.iterdir()} >= {"memory.db", "snapshots"}
    finally:
        down = compose_run("down")
        shutil.rmtree(root, ignore_errors=True)
    assert down.returncode == 0, f"podman-compose down: {down.stdout}{down.stderr}"
    left = podman("ps", "-a", "--filter", f"name={prefix}", "--format", "{{.Names}}")
    assert left.stdout.strip() == ""


# -- the shipped compose and quadlet files describe the setup tested above --------------------
def test_quadlet_and_compose_files_share_the_directory_with_distinct_origins() -> None:
    quadlets = sorted((REPO / "containers" / "quadlet").glob("aios-*.container"))
    assert [q.name for q in quadlets] == ["aios-a.container", "aios-b.container"]
    volumes: set[str] = set()
    origins: list[str] = []
    for q in quadlets:
        keys = [line.split("=", 1) for line in q.read_text().splitlines() if "=" in line and not line.startswith("#")]
        assert ["Image", IMAGE] in keys
        volumes.update(v for k, v in keys if k == "Volume")
        origins += [v.split("=", 1)[1] for k, v in keys if k == "Environment" and v.startswith("AIOS_ORIGIN=")]
        assert ["Environment", "CONTAINERS_CONF=/etc/containers/aios.conf"] in keys
    assert volumes == {"/var/lib/aios-shared:/var/lib/aios"}  # one directory, never memory.db alone
    assert sorted(origins) == ["container-a", "container-b"]

    compose = (REPO / "containers" / "compose.yaml").read_text()
    assert compose.count("AIOS_ORIGIN: container-") == 2
    assert "source: ${AIOS_SHARED_DIR:-/var/lib/aios-shared}" in compose and "target: /var/lib/aios\n" in compose
    assert f"image: {IMAGE}" in compose and "pull_policy: never" in compose
