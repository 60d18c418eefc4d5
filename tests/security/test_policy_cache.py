"""The policy cache (built rules, compiled patterns): same decisions, and only this user's files.

A cache file is input the next run trusts, so the attacks here plant one: a rule set without the
rule that blocks turning the firewall off, stored under the built-in rules' key. Each test first shows that the planted entry
*would* change the decision when it sits where it is trusted, then that the same bytes are
ignored when another user could have put them there.
"""

from __future__ import annotations

import os
import pickle
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from policy_corpus import HOME, PROTECTED, WORKSPACE, load

from aios.config import SecurityConfig
from aios.security import CacheDir, Policy
from aios.security import _rules_cache as rules_cache
from aios.security._rules_toml import load_rules

CORPORA = ("corpus_normal.txt", "corpus_safe.txt", "corpus_paranoid.txt", "corpus_trusted.txt")
ATTACK = "ufw disable"
PERMISSIVE = 'version = 1\ndisable = ["secoff.firewall-ufw"]\n'


@pytest.fixture
def tmp() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="aios-cache-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def policy(mode: str = "normal", cache: Path | None = None, rules_file: Path | None = None) -> Policy:
    config = SecurityConfig(mode=mode, rules_file=str(rules_file) if rules_file else None)  # type: ignore[arg-type]
    return Policy(config, workspace=WORKSPACE, home=HOME, protected_paths=PROTECTED, cache_dir=cache)


def decisions(pol: Policy, mode: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    out = []
    for name in CORPORA:
        for case in load(name):
            d = pol.check_command(case.command, mode=mode)
            out.append((d.action, d.rule, d.reason, d.targets))
    return out


def test_cached_and_uncached_policies_decide_every_corpus_line_alike(tmp: Path) -> None:
    cache = tmp / "cache"
    built = policy(cache=cache)
    assert not built.rules_from_cache
    assert {p.name.split("-")[0] for p in cache.iterdir()} == {"regex", "rules"}
    warm = policy(cache=cache)
    assert warm.rules_from_cache
    plain = policy()
    for mode in ("normal", "safe", "paranoid", "trusted"):
        assert decisions(warm, mode) == decisions(plain, mode), mode


def test_one_changed_byte_of_the_rules_file_builds_again(tmp: Path) -> None:
    rules = tmp / "rules.toml"
    rules.write_text('version = 1\n\n[[rule]]\nid = "site.deploy"\nmatch = ["deploy"]\naction = "confirm"\n'
                     'reason = "deploys A"\n')
    cache = tmp / "cache"
    assert "deploys A" in policy(cache=cache, rules_file=rules).check_command("deploy").reason
    assert policy(cache=cache, rules_file=rules).rules_from_cache
    rules.write_text(rules.read_text().replace("deploys A", "deploys B"))
    again = policy(cache=cache, rules_file=rules)
    assert not again.rules_from_cache
    assert "deploys B" in again.check_command("deploy").reason
    # The allow list and the config regexes are part of the key too (the examples are checked with them).
    assert not Policy(SecurityConfig(rules_file=str(rules), dangerous_patterns=["deploy"]), workspace=WORKSPACE,
                      home=HOME, protected_paths=PROTECTED, cache_dir=cache).rules_from_cache


def plant(cache: Path) -> Path:
    """Store a rule set that only confirms ``ufw disable`` under the built-in rules' key; returns the file."""
    permissive = cache.parent / "permissive.toml"
    permissive.write_text(PERMISSIVE)
    cache.mkdir(mode=0o700, exist_ok=True)
    key = rules_cache.rules_key(None, None, None, [])
    assert rules_cache.store(CacheDir(cache), key, load_rules(str(permissive)))
    (entry,) = cache.glob("rules-*.cache")
    return entry


def test_the_planted_entry_is_used_where_it_is_trusted(tmp: Path) -> None:
    # The premise of the tests below: in a private directory, written by this user, it is loaded.
    cache = tmp / "cache"
    plant(cache)
    assert policy(cache=cache).check_command(ATTACK).action != "block"


def test_a_cache_in_a_directory_others_can_write_is_ignored(tmp: Path) -> None:
    cache = tmp / "cache"
    plant(cache)
    os.chmod(cache, 0o777)  # another user could have put the file there, or swapped it
    pol = policy(cache=cache)
    assert not pol.rules_from_cache
    assert pol.check_command(ATTACK).action == "block"
    os.chmod(cache, 0o770)  # group-writable is the same
    assert policy(cache=cache).check_command(ATTACK).action == "block"


def test_a_cache_file_owned_by_another_user_is_ignored(tmp: Path) -> None:
    cache = tmp / "cache"
    entry = plant(cache)
    nobody = pwd.getpwnam("nobody")
    os.chown(entry, nobody.pw_uid, nobody.pw_gid)
    assert policy(cache=cache).check_command(ATTACK).action == "block"


def test_a_group_or_world_writable_cache_file_is_ignored(tmp: Path) -> None:
    cache = tmp / "cache"
    entry = plant(cache)
    for mode in (0o620, 0o602):
        os.chmod(entry, mode)
        assert policy(cache=cache).check_command(ATTACK).action == "block", oct(mode)


def test_a_link_to_a_planted_file_is_ignored(tmp: Path) -> None:
    cache = tmp / "cache"
    entry = plant(cache)
    elsewhere = tmp / "elsewhere.cache"
    entry.rename(elsewhere)
    entry.symlink_to(elsewhere)
    assert policy(cache=cache).check_command(ATTACK).action == "block"


def test_cache_contents_never_run_code(tmp: Path) -> None:
    """A pickle that would create a marker when loaded, with a valid header and checksum: the
    cache is marshal data, so it is refused and the marker never appears."""
    cache = tmp / "cache"
    entry = plant(cache)
    marker = tmp / "ran"

    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str, ...]]:
            return (os.system, (f"touch {marker}",))

    key = rules_cache.rules_key(None, None, None, [])
    assert CacheDir(cache).write(rules_cache.KIND, key, pickle.dumps(Boom()))
    assert entry.exists()
    pol = policy(cache=cache)
    assert pol.check_command(ATTACK).action == "block"
    assert not marker.exists()
    # A marshalled code object is only data to the loader as well.
    CacheDir(cache).write(rules_cache.KIND, key, __import__("marshal").dumps(compile(f"open('{marker}', 'w')", "x", "exec")))
    assert policy(cache=cache).check_command(ATTACK).action == "block"
    assert not marker.exists()


def test_truncated_or_damaged_entries_are_rebuilt(tmp: Path) -> None:
    cache = tmp / "cache"
    policy(cache=cache)
    for entry in sorted(cache.iterdir()):
        whole = entry.read_bytes()
        for broken in (whole[: len(whole) // 2], whole[:-1] + bytes([whole[-1] ^ 1]), b""):
            entry.write_bytes(broken)
            pol = policy(cache=cache)
            assert pol.check_command(ATTACK).action == "block"
            assert pol.check_command("cat ~/.ssh/id_ed25519").action == "block"
            assert entry.read_bytes() == whole  # rebuilt and stored again


def test_no_cache_dir_means_no_files(tmp: Path) -> None:
    pol = policy()
    assert not pol.rules_from_cache
    assert list(tmp.iterdir()) == []
