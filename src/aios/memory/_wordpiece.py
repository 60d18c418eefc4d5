"""BERT's uncased WordPiece tokenizer in plain Python, read from a ``tokenizer.json``.

Why not the ``tokenizers`` package: since 0.15 it depends on ``huggingface-hub`` and through it on
eight more packages (an HTTP client, a Rust downloader, click, tqdm…), a lot of code to install
into a root daemon for 80 lines of text processing. This module reproduces what ``tokenizers``
does for all-MiniLM-L6-v2 (BertNormalizer with lowercase and accent stripping, BertPreTokenizer,
WordPiece with ``##`` continuations, ``[CLS] … [SEP]``); tests compare ids with ids recorded from
``tokenizers`` 0.23.3. One deliberate difference: special tokens typed in the text (``[SEP]``)
are ordinary text here, so a memory cannot inject them.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import attrs

MAX_WORD_CHARS = 100


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def _is_whitespace(ch: str) -> bool:
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def normalize(text: str) -> str:
    """BertNormalizer: drop control characters, space out CJK, lowercase, strip accents."""
    out: list[str] = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        if _is_whitespace(ch):
            out.append(" ")
        elif _is_cjk(cp):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    lowered = "".join(out).lower()
    decomposed = unicodedata.normalize("NFD", lowered)
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def pre_tokenize(text: str) -> list[str]:
    """Split on whitespace, and make every punctuation character a word of its own."""
    words: list[str] = []
    for chunk in text.split():
        current: list[str] = []
        for ch in chunk:
            if _is_punctuation(ch):
                if current:
                    words.append("".join(current))
                    current = []
                words.append(ch)
            else:
                current.append(ch)
        if current:
            words.append("".join(current))
    return words


@attrs.frozen
class WordPiece:
    """A WordPiece vocabulary and the ids of its special tokens. Create with :meth:`load`."""

    vocab: dict[str, int]
    unk: int
    cls: int
    sep: int

    @classmethod
    def load(cls, path: Path) -> WordPiece:
        """Read the vocabulary of a Hugging Face ``tokenizer.json`` (WordPiece model)."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        vocab = {str(k): int(v) for k, v in data["model"]["vocab"].items()}
        return cls(vocab, vocab["[UNK]"], vocab["[CLS]"], vocab["[SEP]"])

    def _word(self, word: str) -> list[int]:
        if len(word) > MAX_WORD_CHARS:
            return [self.unk]
        ids: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self.vocab.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return [self.unk]
            ids.append(found)
            start = end
        return ids

    def encode(self, text: str, max_length: int = 256) -> list[int]:
        """Token ids of ``text`` as ``[CLS] … [SEP]``, cut to ``max_length`` ids in all."""
        ids: list[int] = []
        budget = max_length - 2
        for piece in _pieces(text):
            for word in pre_tokenize(normalize(piece)):
                ids.extend(self._word(word))
                if len(ids) >= budget:
                    return [self.cls, *ids[:budget], self.sep]
        return [self.cls, *ids[:budget], self.sep]


_PIECE = 2048


def _pieces(text: str) -> Iterator[str]:
    """``text`` in pieces of about 2,048 characters, cut at white space where there is some, so
    a long text (a memory of a megabyte, a query of one) is normalised only as far as its first
    256 tokens reach instead of whole (seconds of CPU in pure Python)."""
    start = 0
    while start < len(text):
        end = min(start + _PIECE, len(text))
        if end < len(text):
            cut = end
            while cut > start + _PIECE // 2 and not text[cut - 1].isspace():
                cut -= 1
            end = cut if cut > start + _PIECE // 2 else end
        yield text[start:end]
        start = end
