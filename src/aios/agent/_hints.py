"""Worked examples for small models, picked per request.

A 135M-parameter model cannot map "which process listens on port 22" to ``ss -ltnp`` on its
own, but it copies a close example well. So for structured mode (the embedded model, small
Ollama models) the agent shows the few examples whose wording is closest to the request, as
earlier turns. Larger models do not get them: they know the commands, and examples would only
cost tokens.
"""

from __future__ import annotations

import re

# (request, command). Kept read-only on purpose: an example teaches the model what to copy.
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("List the files in this directory", "ls -la"),
    ("Show the files in /etc", "ls -la /etc"),
    ("How much disk space is free", "df -h"),
    ("How full is the disk", "df -h"),
    ("Show the size of the logs directory", "du -sh /var/log"),
    ("Which directories use the most space here", "du -sh * | sort -h | tail"),
    ("How much memory RAM is free", "free -h"),
    ("How much swap is used", "swapon --show; free -h"),
    ("Which process is listening on port 80", "ss -ltnp 'sport = :80'"),
    ("Which ports are open listening", "ss -ltnup"),
    ("Show the status of the nginx service", "systemctl status nginx --no-pager"),
    ("Is the cron service running", "systemctl is-active cron"),
    ("List the failed services", "systemctl --failed --no-pager"),
    ("Show the last lines of the system log journal", "journalctl -n 50 --no-pager"),
    ("Show the kernel messages", "dmesg | tail -n 50"),
    ("Which kernel version is running", "uname -r"),
    ("Which Linux distribution release is installed", "cat /etc/os-release"),
    ("What is the hostname of this machine", "hostname"),
    ("What is the IP address of this machine", "ip -brief address"),
    ("Show the network routes default gateway", "ip route"),
    ("Which DNS servers are used", "cat /etc/resolv.conf"),
    ("How long has the machine been up uptime", "uptime"),
    ("What is the load average", "uptime"),
    ("Who is logged in right now", "who"),
    ("Which user am I", "id"),
    ("List the users defined on this machine accounts", "getent passwd"),
    ("List the groups", "getent group"),
    ("Which processes use the most CPU", "ps aux --sort=-%cpu | head -n 10"),
    ("Which processes use the most memory", "ps aux --sort=-%mem | head -n 10"),
    ("Is a process named sshd running", "pgrep -a sshd"),
    ("How many CPU cores does the machine have", "nproc"),
    ("Show the CPU model", "lscpu"),
    ("List the mounted file systems mounts", "findmnt"),
    ("List the disks and partitions block devices", "lsblk"),
    ("Show the current date and time clock", "date"),
    ("Which timezone is configured", "timedatectl"),
    ("Which packages are installed", "dpkg -l"),
    ("Is the curl package installed", "dpkg -l curl"),
    ("Which version of python3 is installed", "python3 --version"),
    ("Where is the git command", "command -v git"),
    ("Show the environment variables", "env"),
    ("Show the current directory", "pwd"),
    ("Find files named config", "find . -name '*config*'"),
    ("Find files bigger than 100 MB", "find . -type f -size +100M"),
    ("Search for the word error in app.log", "grep -n error app.log"),
    ("Show the first lines of notes.txt", "head -n 20 notes.txt"),
    ("Show the last lines of app.log", "tail -n 50 app.log"),
    ("Count the lines in data.csv", "wc -l data.csv"),
    ("Show the cron jobs crontab", "crontab -l"),
    ("Show the firewall rules", "nft list ruleset"),
    ("Show the git status of this repository", "git status"),
    ("Show the recent git commits", "git log --oneline -n 10"),
    ("List the docker podman containers", "podman ps -a"),
    ("Show the open files of process 1234", "ls -l /proc/1234/fd"),
    ("Check the connection to example.org ping", "ping -c 3 example.org"),
)

# (request, tool, arguments) for the typed admin tools (docs/tools.md): offered as examples when
# those tools are, in place of the bash examples of the same domain (TYPED_DOMAINS).
TOOL_EXAMPLES: tuple[tuple[str, str, dict[str, object]], ...] = (
    ("Install the nginx package", "packages", {"action": "install", "names": ["nginx"]}),
    ("What would upgrading the packages change", "packages", {"action": "plan", "upgrade": True}),
    ("Is the curl package installed", "packages", {"action": "list_installed", "names": ["curl"]}),
    ("Which packages are installed", "packages", {"action": "list_installed"}),
    ("Restart the apache2 service", "services", {"action": "restart", "unit": "apache2"}),
    ("Show the status of the nginx service", "services", {"action": "status", "unit": "nginx"}),
    ("Is the cron service running enabled", "services", {"action": "status", "unit": "cron"}),
    ("Show the recent errors logs of the ssh service", "services", {"action": "logs", "unit": "ssh", "lines": 50}),
    ("List the docker podman containers", "containers", {"action": "list"}),
    ("Show the logs of the container named db", "containers", {"action": "logs", "name": "db"}),
    ("Show the git status uncommitted changes of this repository", "git", {"action": "status"}),
    ("Show the recent git commits", "git", {"action": "log", "lines": 10}),
)
TYPED_DOMAINS: dict[str, tuple[str, ...]] = {
    "packages": ("dpkg", "apt"), "services": ("systemctl",), "containers": ("podman", "docker"), "git": ("git",),
}
"""Which bash examples a typed tool replaces, by the command's first word."""

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an the is are of in on to this that these here there me my i you your it what which who how "
    "show list tell please do does can could would give find get with for and or at by from".split()
)


def _words(text: str) -> set[str]:
    out = set()
    for w in _WORD.findall(text.lower()):
        if w in _STOP:
            continue
        out.add(w[:-1] if len(w) > 3 and w.endswith("s") else w)
    return out


_INDEX = [(_words(q), q, c) for q, c in EXAMPLES]


def closest(request: str, n: int = 3) -> list[tuple[str, str]]:
    """The ``n`` examples whose words overlap the request most (best last, nearest the request)."""
    words = _words(request)
    scored = sorted(
        ((len(words & w) / (len(w) ** 0.5), i) for i, (w, _q, _c) in enumerate(_INDEX) if words & w), reverse=True
    )
    picked = [i for _s, i in scored[:n]]
    if len(picked) < n:
        picked += [i for i in (0, 2, 15) if i not in picked][: n - len(picked)]
    return [(EXAMPLES[i][0], EXAMPLES[i][1]) for i in reversed(picked)]


def closest_calls(request: str, offered: set[str], n: int = 3) -> list[tuple[str, str, dict[str, object]]]:
    """Like :func:`closest`, over the bash examples and the typed tools' examples, for the tools
    ``offered``: (question, tool, arguments), best last. A typed tool that is offered replaces
    the bash examples of its domain, so a small model copies the typed call."""
    covered = {w for tool, words in TYPED_DOMAINS.items() if tool in offered for w in words}
    pool: list[tuple[set[str], str, str, dict[str, object]]] = []
    if "bash" in offered:
        pool += [(w, q, "bash", {"command": c}) for w, q, c in _INDEX if c.split()[0] not in covered]
    pool += [(_words(q), q, tool, args) for q, tool, args in TOOL_EXAMPLES if tool in offered]
    words = _words(request)
    scored = sorted(((len(words & w) / (len(w) ** 0.5), i) for i, (w, *_rest) in enumerate(pool) if words & w), reverse=True)
    picked = [i for _s, i in scored[:n]]
    return [(pool[i][1], pool[i][2], pool[i][3]) for i in reversed(picked)]
