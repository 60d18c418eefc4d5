"""Code fetched and run in one step: ``npx PKG`` (downloads PKG unless the project has it), and
build tools run in a directory this same line downloaded (``git clone URL r && make -C r``).

The downloaded build is judged as ``git clone URL r && sh r/x.sh`` is (remote code, block);
``npx`` of a package the policy does not know is confirmed, as ``pip install git+URL`` is.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ._findings import Context, Finding, remote_code
from ._words import SimpleCommand, Word

if TYPE_CHECKING:
    from ._judge import Judge

_KNOWN = frozenset({"prettier", "eslint", "tsc", "typescript", "jest", "vitest", "vite", "webpack", "webpack-cli",
                    "rollup", "esbuild", "ts-node", "tsx", "next", "nuxt", "astro", "mocha", "nodemon", "playwright",
                    "cypress", "stylelint", "lint-staged", "husky", "serve", "http-server", "npm-check-updates",
                    "ncu", "svelte-kit", "ng", "vue-tsc", "biome", "@biomejs/biome", "turbo", "nx", "lerna"})
"""Everyday project tools ``npx`` runs (from the project's node_modules, or the registry's
package of that well-known name)."""
_OPTS_WITH_VALUE = frozenset({"-p", "--package", "-c", "--call", "--cache", "--prefix", "--registry"})
_DIR_OPTIONS = frozenset({"-C", "--directory", "--manifest-path", "--prefix", "-B", "-S", "--build", "--cwd",
                          "--dir", "--project-dir", "-p"})
_BUILDERS = frozenset({"make", "gmake", "bmake", "ninja", "cmake", "meson", "cargo", "mvn", "gradle", "bazel", "npm",
                       "pnpm", "yarn", "bun", "scons", "just", "task", "rake", "ant"})


def npx(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """``npx PKG``, ``npx -p PKG CMD``, ``npx PKG@VERSION``: confirmed unless PKG is a known tool
    the project itself installed or a well-known one."""
    pkgs: list[str] = []
    first: str | None = None
    k = 0
    while k < len(args):
        v = args[k].value
        if args[k].dynamic:
            pkgs.append(v)
            break
        if v in _OPTS_WITH_VALUE and k + 1 < len(args):
            if v in ("-p", "--package", "-c", "--call"):
                pkgs.append(args[k + 1].value)
            k += 2
            continue
        if v.startswith("--package="):
            pkgs.append(v.split("=", 1)[1])
        elif not v.startswith("-"):
            first = v
            break
        k += 1
    if first is not None and not any(v in ("-c", "--call") for v in (w.value for w in args)):
        pkgs.append(first)
    local = os.path.join(ctx.cwd, "node_modules", ".bin") if ctx.cwd else None
    unknown = [p for p in pkgs if p not in _KNOWN and not (local and os.path.exists(os.path.join(local, p)))]
    if unknown:
        ctx.add(Finding("confirm", "pkg.fetch-run", f"{name} runs {unknown[0]!r}, a package it may download first, "
                        "unseen before it runs", frozenset({"dynamic"})))


def built_download(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """A build tool run in (or pointed at) a directory this line fills from the network."""
    if not ctx.files:
        return
    dirs = ["."]
    for k, w in enumerate(args):
        v = w.value
        if v in _DIR_OPTIONS and k + 1 < len(args) and not args[k + 1].dynamic:
            dirs.append(args[k + 1].value)
        elif v.startswith("--") and "=" in v and v.split("=", 1)[0] in _DIR_OPTIONS:
            dirs.append(v.split("=", 1)[1])
        elif v.startswith("-C") and len(v) > 2:
            dirs.append(v[2:])
    fetched = [k for k, text in ctx.files.items() if k.endswith("/") and text is None]
    for d in dirs:
        path = judge.paths.abspath(d, ctx.cwd)
        if path is not None and any((path.rstrip("/") + "/").startswith(k) for k in fetched):
            ctx.add(remote_code("dyn.download-build", f"{name} builds and runs code in {d}, which this line "
                                "downloads; what it does is only known when it runs"))
            return


HANDLERS = {"npx": npx, "pnpx": npx, "bunx": npx, **{b: built_download for b in _BUILDERS - {"make", "gmake", "bmake"}}}
