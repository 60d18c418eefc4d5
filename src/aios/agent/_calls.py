"""OpenAI-style tool calls assembled from streamed fragments, as real servers send them. Pure.

OpenAI sends ``index`` on every fragment, ``id``, ``type`` and ``name`` only on the first, and
the arguments as string pieces cut anywhere (inside a JSON string or an escape). Others differ:

- Ollama before 0.4.7 and some proxies omit ``index`` (or send ``null``): a fragment continues
  the latest call unless it carries a new id or starts a new name;
- Ollama since gives every call ``index`` 0, told apart only by their ids;
- LocalAI stamps the *request's* id on every call: the same id at another index, or (in a
  whole message, without indexes) on a call with other whole arguments, is another call, which
  gets an id of its own so its result can be told apart;
- indexes may start at 1 or skip; calls keep the order in which they first appeared;
- some servers repeat ``id``, ``type`` and the whole name with every fragment (the name is not
  doubled), a few cut the name itself in pieces (``read_`` + ``file``), told apart from a repeat
  or a new call by the names of the tools offered;
- Groq, Mistral and Ollama's native shape send the arguments whole, as a JSON object;
- no arguments at all, ``""`` or blanks mean ``{}``.

A fragment of an unexpected type (a name that is a list, arguments that are a number) raises
TypeError; the provider turns that into a one-line error about the server.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import attrs
from ulid import ULID

from ._messages import ToolCall, ToolCallStarted


@attrs.define
class _Slot:
    id: str = ""
    name: str = ""
    parts: list[str] = attrs.field(factory=list)
    """Argument pieces, joined once at the end (adding to one string would copy it per piece)."""
    begun: bool = False
    """Whether a non-blank argument piece came."""
    position: int = 0
    index: int | None = None
    """The ``index`` the call came with, so an id seen again at another index is another call."""
    fallback: str = attrs.field(factory=lambda: f"call_{ULID()}")

    @property
    def arguments(self) -> str:
        return "".join(self.parts)


def _index(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"a tool call's {what} is {type(value).__name__}")
    return str(value)


def _whole(slot: _Slot) -> bool:
    """Whether the slot's arguments are already a complete JSON object (parsed only when the
    last piece ends like one, so a long call sent name-repeated piece by piece stays linear)."""
    last = next((p for p in reversed(slot.parts) if p.strip()), "")
    if not last.rstrip().endswith("}"):
        return False
    try:
        json.loads(slot.arguments)
    except (ValueError, RecursionError):
        return False
    return True


def _another(slot: _Slot, args: Any) -> bool:
    """Whether ``args`` (with a name, under an id already seen, no index) start another call:
    the earlier call's arguments are whole and these are different whole-call arguments, not
    a repeat of them (which stays the same call)."""
    if not isinstance(args, str | dict | list) or not args or not _whole(slot):
        return False
    if isinstance(args, str):
        return args.strip() != slot.arguments.strip()
    return bool(json.loads(slot.arguments) != args)


class CallAssembler:
    """Feed it the ``tool_calls`` entries of each delta; ``result()`` gives the calls.

    Args:
        tool_names: the tools offered, to tell a name cut in pieces from a new call.
    """

    def __init__(self, tool_names: Iterable[str] = ()) -> None:
        self._tools = tuple(tool_names)
        self._slots: list[_Slot] = []
        self._by_index: dict[int, _Slot] = {}
        self._announced = 0  # calls announced so far, from the first

    def _continues(self, current: str, piece: str) -> bool:
        """Whether ``piece`` is the rest of a name that so far reads ``current``."""
        if any(t.startswith(current + piece) for t in self._tools):
            return True
        return current not in self._tools  # an unfinished or unknown name: keep gathering

    def _slot_for(self, index: int | None, fid: str, name: str, args: Any) -> _Slot:
        if fid:
            for slot in self._slots:
                if slot.id == fid and (index is None or slot.index is None or slot.index == index):
                    if index is None and name and _another(slot, args):
                        # LocalAI's whole message stamps the request's id on every call
                        return self._new(index)
                    return slot
        found = self._by_index.get(index) if index is not None else (self._slots[-1] if self._slots else None)
        fresh = found is None or (
            not fid
            and name
            and (
                (found.name and name != found.name and not self._continues(found.name, name))
                # the same name again with new arguments after whole ones: a second call
                or (isinstance(args, str | dict | list) and _whole(found) and bool(args))
            )
        )
        if fid and found is not None and found.id and fid != found.id:
            fresh = True
        if found is not None and not fresh:
            return found
        return self._new(index)

    def _new(self, index: int | None) -> _Slot:
        slot = _Slot(position=len(self._slots), index=index)
        self._slots.append(slot)
        if index is not None:
            self._by_index[index] = slot
        return slot

    def _announce(self, count: int) -> list[ToolCallStarted]:
        """Start events for the first ``count`` calls, in order, once each (a call that has no
        name by then is never announced; the event is for display only)."""
        out = []
        while self._announced < count:
            slot = self._slots[self._announced]
            self._announced += 1
            if slot.name:
                out.append(ToolCallStarted(slot.id or slot.fallback, slot.name))
        return out

    def feed(self, frag: Any) -> list[ToolCallStarted]:
        """One ``tool_calls`` entry (or a legacy ``function_call`` as ``{"function": ...}``)."""
        if not isinstance(frag, dict):
            raise TypeError(f"a tool call fragment is {type(frag).__name__}")
        fn = frag.get("function")
        if fn is None:
            fn = {}
        if not isinstance(fn, dict):
            raise TypeError(f"a tool call's function is {type(fn).__name__}")
        fid = _text(frag.get("id"), "id")
        name = _text(fn.get("name"), "name")
        args = fn.get("arguments")
        slot = self._slot_for(_index(frag.get("index")), fid, name, args)
        if fid and not slot.id and not any(s.id == fid for s in self._slots):
            slot.id = fid
        if name and name != slot.name and (not slot.name or self._continues(slot.name, name)):
            slot.name += name
        if isinstance(args, dict | list):  # sent whole, as an object
            slot.parts = [json.dumps(args, ensure_ascii=False)]
            slot.begun = True
        elif isinstance(args, str):
            slot.parts.append(args)
            slot.begun = slot.begun or bool(args.strip())
        elif args is not None:
            raise TypeError(f"a tool call's arguments are {type(args).__name__}")
        # The name is whole once the arguments begin; a call without arguments is announced
        # when the next one begins or the reply ends.
        position = slot.position
        return self._announce(position + 1 if slot.begun else position)

    def close(self) -> list[ToolCallStarted]:
        """Start events not sent yet (calls without arguments)."""
        return self._announce(len(self._slots))

    def result(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(slot.id or slot.fallback, slot.name, slot.arguments.strip() or "{}")
            for slot in self._slots
            if slot.name or slot.begun
        )
