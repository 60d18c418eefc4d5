"""Each config layer overrides the one below, and every error names its source and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from aios.config import ConfigError, check_file, load, parse_duration, parse_size


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "AIOS_SYSTEM_CONFIG": str(tmp_path / "system.toml"),
        "PATH": "/usr/bin:/bin",
    }
    env.update(extra)
    return env


def _user_file(tmp_path: Path) -> Path:
    p = tmp_path / "xdg" / "aios" / "config.toml"
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def test_defaults_when_nothing_is_configured(tmp_path: Path) -> None:
    lc = load(environ=_env(tmp_path))
    assert lc.config.security.mode == "normal"
    assert lc.config.daemon.max_line == 1024 * 1024
    assert lc.source_of("security", "mode") == "default"
    assert lc.files == []


def test_each_layer_overrides_the_one_below(tmp_path: Path) -> None:
    (tmp_path / "system.toml").write_text(
        '[security]\nmode = "safe"\n[sandbox]\ntimeout = "5m"\n[recovery]\nmax_snapshots = 10\n'
        '[memory]\nsearch_window = 500\n[llm]\nmax_rounds = 3\n'
    )
    _user_file(tmp_path).write_text(
        '[security]\nmode = "paranoid"\n[sandbox]\ntimeout = "10m"\n[recovery]\nmax_snapshots = 12\n'
        '[memory]\nsearch_window = 600\n'
    )
    extra = tmp_path / "extra.toml"
    extra.write_text('[sandbox]\ntimeout = 42\n[recovery]\nmax_snapshots = 13\n')
    env = _env(tmp_path, AIOS_SANDBOX__TIMEOUT="1h", AIOS_RECOVERY__MAX_SNAPSHOTS="14", AIOS_MEMORY__SEARCH_WINDOW="700")
    lc = load(environ=env, config_file=extra, sets=["recovery.max_snapshots=15"])
    c = lc.config
    assert c.llm.max_rounds == 3 and lc.source_of("llm", "max_rounds") == str(tmp_path / "system.toml")
    assert c.security.mode == "paranoid" and lc.source_of("security", "mode").endswith("aios/config.toml")
    assert c.memory.search_window == 700
    assert lc.source_of("memory", "search_window") == "environment variable AIOS_MEMORY__SEARCH_WINDOW"
    assert c.sandbox.timeout == 42.0 and lc.source_of("sandbox", "timeout") == str(extra)
    assert c.recovery.max_snapshots == 15
    assert lc.source_of("recovery", "max_snapshots").startswith("flag --set")
    assert lc.files == [str(tmp_path / "system.toml"), str(_user_file(tmp_path)), str(extra)]


def test_aios_config_moves_the_user_file(tmp_path: Path) -> None:
    moved = tmp_path / "moved.toml"
    moved.write_text('[security]\nmode = "trusted"\n')
    _user_file(tmp_path).write_text('[security]\nmode = "safe"\n')
    lc = load(environ=_env(tmp_path, AIOS_CONFIG=str(moved)))
    assert lc.config.security.mode == "trusted"
    assert lc.files == [str(moved)]


@pytest.mark.parametrize(
    ("where", "text", "key", "fragment"),
    [
        ("user", '[security]\nmod = "safe"\n', "security.mod", "unknown key"),
        ("user", '[securty]\nmode = "safe"\n', "securty", "unknown key"),
        ("user", '[security]\nmode = "lax"\n', "security.mode", "one of 'safe'"),
        ("system", "[daemon]\nmax_line = \"lots\"\n", "daemon.max_line", "not a size"),
        ("system", "[recovery]\ninterval = \"3 fortnights\"\n", "recovery.interval", "duration unit"),
        ("user", "[recovery]\nmax_snapshots = \"24\"\n", "recovery.max_snapshots", "an integer"),
        ("user", "[recovery]\nmax_snapshots = 0\n", "recovery.max_snapshots", ">= 1"),
        ("user", "[sandbox]\nhidden_paths = \"~/.ssh\"\n", "sandbox.hidden_paths", "a list"),
        ("user", "[daemon]\nautostart = \"yes\"\n", "daemon.autostart", "true or false"),
        ("user", "[llm.providers.x]\nkind = \"gemini\"\n", "llm.providers.x.kind", "one of"),
        ("user", "security = 3\n", "security", "must be a table"),
    ],
)
def test_errors_name_the_file_and_key(tmp_path: Path, where: str, text: str, key: str, fragment: str) -> None:
    path = tmp_path / "system.toml" if where == "system" else _user_file(tmp_path)
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(environ=_env(tmp_path))
    message = str(info.value)
    assert str(path) in message
    assert key in message
    assert fragment in message
    assert info.value.source == str(path) and info.value.key == key


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    _user_file(tmp_path).write_text("[security\nmode=")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load(environ=_env(tmp_path))
    assert str(_user_file(tmp_path)) in str(info.value)


@pytest.mark.parametrize(
    ("var", "value", "fragment"),
    [
        ("AIOS_SECURITY__MODE", "lax", "security.mode"),
        ("AIOS_SECURITY__NOPE", "1", "security.nope"),
        ("AIOS_SECURITY_MODE", "safe", "double underscore"),
        ("AIOS_SANDBOX__OUTPUT_LIMIT", "-3", "sandbox.output_limit"),
    ],
)
def test_bad_environment_variable_is_named(tmp_path: Path, var: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(environ=_env(tmp_path, **{var: value}))
    assert f"environment variable {var}" in str(info.value)
    assert fragment in str(info.value)


@pytest.mark.parametrize("flag", ["security.mode=lax", "nokey", "security..mode=1", "daemon.bogus=1"])
def test_bad_set_flag_is_named(tmp_path: Path, flag: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(environ=_env(tmp_path), sets=[flag])
    assert "--set" in str(info.value)


def test_missing_config_flag_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load(environ=_env(tmp_path), config_file=tmp_path / "absent.toml")


def test_human_forms() -> None:
    assert parse_duration("hourly") == 3600
    assert parse_duration("30m") == 1800
    assert parse_duration("1h30m") == 5400
    assert parse_duration("250ms") == 0.25
    assert parse_duration(12) == 12
    assert parse_size("64KiB") == 65536
    assert parse_size("1 MiB") == 1048576
    assert parse_size("10MB") == 10_000_000
    assert parse_size(7) == 7
    for bad in ("", "m", "5 parsecs", "-1", True):
        with pytest.raises(ValueError):
            parse_duration(bad)
    for bad in ("", "KiB", "3 furlongs", "-1", 1.5):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_providers_table_merges_by_name(tmp_path: Path) -> None:
    _user_file(tmp_path).write_text(
        '[llm]\ndefault_provider = "local"\n[llm.providers.local]\nkind = "openai"\n'
        'base_url = "http://127.0.0.1:11434/v1"\nmodel = "qwen"\n'
        '[llm.providers.claude]\nkind = "anthropic"\napi_key_env = "ANTHROPIC_API_KEY"\n'
    )
    lc = load(environ=_env(tmp_path), sets=['llm.providers.local.model="llama3"'])
    providers = lc.config.llm.providers
    assert set(providers) == {"local", "claude"}
    assert providers["local"].model == "llama3"
    assert providers["local"].base_url == "http://127.0.0.1:11434/v1"
    assert providers["claude"].kind == "anthropic"


def test_check_file(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[security]\nmode = "safe"\n')
    assert check_file(good).security.mode == "safe"
    bad = tmp_path / "bad.toml"
    bad.write_text("[tools]\nplugin_timeout = \"soon\"\n")
    with pytest.raises(ConfigError, match="tools.plugin_timeout"):
        check_file(bad)


def test_paths_move_with_config_and_environment(tmp_path: Path) -> None:
    env = _env(tmp_path, XDG_RUNTIME_DIR=str(tmp_path / "rt"), XDG_STATE_HOME=str(tmp_path / "st"))
    lc = load(environ=env)
    assert lc.paths.socket == tmp_path / "rt" / "aios" / "aios.sock"
    assert lc.paths.memory_db == tmp_path / "st" / "aios" / "memory.db"
    lc = load(environ={**env, "AIOS_PATHS__STATE_DIR": str(tmp_path / "s2")}, sets=[f'paths.socket="{tmp_path}/x.sock"'])
    assert lc.paths.memory_db == tmp_path / "s2" / "memory.db"
    assert lc.paths.snapshot_dir == tmp_path / "s2" / "snapshots"
    assert lc.paths.socket == tmp_path / "x.sock"
    system = load(environ=env, system=True).paths
    assert system.scope == "system"
    assert str(system.socket) == "/run/aios/aios.sock"
    assert str(system.state_dir) == "/var/lib/aios"
