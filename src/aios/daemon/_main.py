"""``aios-runtime``: the daemon's entry point (also ``aios daemon run``)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

import trio

from aios import __version__
from aios.errors import AiosError

from ._logging import setup_logging
from ._pathguard import clean_environment, clean_sys_path
from ._registry import Registry
from ._reload import StartArgs


def build_registry() -> Registry:
    # Imported here, not at the top: main() cleans the import path first (see _pathguard), and
    # the method modules pull in most of aios (tools, policy, sandbox, recovery).
    from . import (
        _methods_approvals,
        _methods_audit,
        _methods_chat,
        _methods_config,
        _methods_core,
        _methods_snapshot,
        _methods_tools,
    )

    reg = Registry()
    for module in (_methods_core, _methods_config, _methods_tools, _methods_chat, _methods_snapshot, _methods_approvals,
                   _methods_audit):
        module.register(reg)
    return reg


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="aios-runtime",
        description="The aios daemon: serves JSON-RPC on a Unix socket until SIGTERM/SIGINT.",
    )
    p.add_argument("--system", action="store_true", help="run as the system daemon (/etc/aios, /var/lib/aios, /run/aios)")
    p.add_argument("--config", metavar="FILE", help="an extra config file, applied after the environment")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="sets", help="override one config key, e.g. --set security.mode=paranoid")
    p.add_argument("--socket", metavar="PATH", help="listen on this socket path (same as --set paths.socket=PATH)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log level (default: daemon.log_level)")
    p.add_argument("--version", action="version", version=f"aios-runtime {__version__}")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the daemon in the foreground. Exit 0 on a clean stop, 1 on an error."""
    # Before anything is imported lazily: no import path others can write (see _pathguard).
    unsafe = clean_sys_path()
    dropped = clean_environment()
    args = _parser().parse_args(argv)
    sets = list(args.sets)
    if args.socket:
        sets.append(f"paths.socket={_toml_str(os.path.abspath(args.socket))}")
    config_file = os.path.abspath(args.config) if args.config else None
    # The daemon's own flags are part of its base: a reload loads the same way.
    start = StartArgs(config_file=config_file, sets=tuple(sets), system=args.system or None)
    try:
        loaded = start.load()
    except AiosError as exc:
        for line in str(exc).splitlines():  # a config with several problems: one line each
            print(f"aios-runtime: {line}", file=sys.stderr)
        return 1
    # The caller's directory may be a workspace a jailed command wrote: nothing may resolve there.
    os.chdir("/")
    dc = loaded.config.daemon
    setup_logging(args.log_level or dc.log_level, loaded.paths.log_file,
                  max_bytes=int(dc.log_max_bytes), keep=dc.log_keep, target=dc.log_target)
    for entry, why in unsafe:
        logging.getLogger("aios.daemon").warning(
            "removed %r from the import path: %s (start the daemon with 'python -I', see docs/deploy.md)", entry, why)
    if dropped:
        logging.getLogger("aios.daemon").info("ignored %s: the daemon and its children run without them", ", ".join(dropped))
    from ._app import Daemon  # after the import path is clean, like every lazy import

    daemon = Daemon(start, loaded, build_registry())
    try:
        trio.run(daemon.run)
    except AiosError as exc:
        logging.getLogger("aios.daemon").error("stopped: %s", exc)
        print(f"aios-runtime: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


def _toml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
