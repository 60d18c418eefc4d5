"""Value types that accept human forms: durations ("30m", "hourly") and sizes ("64KiB")."""

from __future__ import annotations

import re

_DURATION_WORDS = {
    "minutely": 60.0,
    "hourly": 3600.0,
    "daily": 86400.0,
    "weekly": 7 * 86400.0,
}
_DURATION_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
    "w": 7 * 86400.0,
    "week": 7 * 86400.0,
    "weeks": 7 * 86400.0,
}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1024**4,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")


class Seconds(float):
    """A duration in seconds. Accepts numbers, "30s", "1h30m", "hourly", "daily"."""

    def __repr__(self) -> str:
        return f"Seconds({float(self)!r})"


class Bytes(int):
    """A size in bytes. Accepts integers, "64KiB", "1 MiB", "10MB"."""

    def __repr__(self) -> str:
        return f"Bytes({int(self)!r})"


def parse_duration(value: object) -> Seconds:
    """Parse a duration; raise ValueError with the accepted forms when it is not one."""
    if isinstance(value, bool):
        raise ValueError('expected a duration such as 30, "30s", "5m", "1h30m" or "hourly"')
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return Seconds(float(value))
    if not isinstance(value, str):
        raise ValueError('expected a duration such as 30, "30s", "5m", "1h30m" or "hourly"')
    text = value.strip().lower()
    if text in _DURATION_WORDS:
        return Seconds(_DURATION_WORDS[text])
    pos = 0
    total = 0.0
    while pos < len(text):
        m = _PART.match(text, pos)
        if not m or m.end() == pos:
            break
        number, unit = m.group(1), m.group(2) or "s"
        if unit not in _DURATION_UNITS:
            raise ValueError(
                f"unknown duration unit {unit!r} in {value!r}; use ms, s, m, h, d, w or "
                "hourly/daily/weekly"
            )
        total += float(number) * _DURATION_UNITS[unit]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(
            f'{value!r} is not a duration; use e.g. 30, "30s", "5m", "1h30m" or "hourly"'
        )
    return Seconds(total)


def parse_size(value: object) -> Bytes:
    """Parse a size; raise ValueError with the accepted forms when it is not one."""
    if isinstance(value, bool):
        raise ValueError('expected a size such as 65536, "64KiB" or "10MB"')
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return Bytes(value)
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return Bytes(int(value))
    if not isinstance(value, str):
        raise ValueError('expected a size such as 65536, "64KiB" or "10MB"')
    m = _SIZE.fullmatch(value)
    if not m:
        raise ValueError(f'{value!r} is not a size; use e.g. 65536, "64KiB", "1MiB" or "10MB"')
    unit = m.group(2).lower()
    if unit not in _SIZE_UNITS:
        raise ValueError(
            f"unknown size unit {m.group(2)!r} in {value!r}; use B, KiB, MiB, GiB, KB, MB, GB"
        )
    return Bytes(int(float(m.group(1)) * _SIZE_UNITS[unit]))


def format_duration(seconds: float) -> str:
    """Render seconds the way a person writes them ("1h30m", "45s")."""
    s = float(seconds)
    if s < 1 and s > 0:
        return f"{round(s * 1000)}ms"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            n = int(s // size)
            parts.append(f"{n}{unit}")
            s -= n * size
    if s or not parts:
        parts.append(f"{s:g}s")
    return "".join(parts)


def format_size(n: int) -> str:
    """Render a byte count with binary units ("64KiB")."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            if unit == "B":
                return f"{int(value)}B"
            return f"{value:.4g}{unit}"
        value /= 1024
    return f"{n}B"
