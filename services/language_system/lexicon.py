"""The game's languages as word lists aligned on the common tongue; pure lookups."""

from __future__ import annotations

import re

# common word -> (elvish, dwarvish, orcish)
_ROWS = {
    "hello": ("suilad", "gamut", "lok"),
    "friend": ("mellon", "khazad", "brak"),
    "enemy": ("coth", "baruk", "gash"),
    "water": ("nen", "ulbar", "shak"),
    "fire": ("naur", "gund", "ghash"),
    "stone": ("gond", "khuz", "durb"),
    "tree": ("orn", "zarak", "grob"),
    "gold": ("mal", "kibil", "glob"),
    "sword": ("megil", "azan", "snik"),
    "road": ("men", "thul", "hurz"),
    "home": ("bar", "tumun", "grum"),
    "king": ("aran", "uzbad", "ghul"),
    "night": ("du", "dum", "burz"),
    "day": ("aur", "ninz", "glar"),
    "star": ("el", "ziram", "tharz"),
    "moon": ("ithil", "bizar", "mulk"),
    "sun": ("anor", "nalah", "glur"),
    "mountain": ("orod", "tharkun", "krag"),
    "river": ("sirion", "ulfast", "rhun"),
    "forest": ("taur", "mahal", "tuk"),
    "quest": ("sant", "gathol", "dakk"),
    "the": ("i", "u", "ob"),
    "and": ("a", "na", "agh"),
    "to": ("na", "ma", "ug"),
    "go": ("lasto", "kab", "gor"),
    "find": ("hir", "bund", "nakh"),
    "bring": ("tolo", "dur", "drag"),
    "return": ("dannas", "hazad", "ruk"),
    "is": ("na", "an", "ash"),
    "good": ("maer", "ruk", "zog"),
}
LANGUAGES = ("common", "elvish", "dwarvish", "orcish")
_WORD = re.compile(r"[A-Za-z']+|[^A-Za-z']+")


def _table(language: str) -> dict[str, str]:
    """language word -> common word."""
    if language == "common":
        return {word: word for word in _ROWS}
    column = LANGUAGES.index(language) - 1
    table: dict[str, str] = {}
    for common, row in _ROWS.items():
        table.setdefault(row[column], common)
    return table


def _to(language: str) -> dict[str, str]:
    """common word -> language word."""
    if language == "common":
        return {word: word for word in _ROWS}
    column = LANGUAGES.index(language) - 1
    return {common: row[column] for common, row in _ROWS.items()}


def words(text: str) -> list[str]:
    return [token.lower() for token in _WORD.findall(text) if token[0].isalpha()]


def detect(text: str) -> tuple[str, float]:
    """The language with the largest share of known words (ties: the first in LANGUAGES)."""
    tokens = words(text)
    if not tokens:
        return "common", 0.0
    shares = {language: sum(token in _table(language) for token in tokens) / len(tokens) for language in LANGUAGES}
    language = max(LANGUAGES, key=lambda name: (shares[name], -LANGUAGES.index(name)))
    return language, round(shares[language], 4)


def translate(text: str, source: str, target: str) -> tuple[str, list[str]]:
    """Word-by-word translation keeping spacing and punctuation; unknown words stay as they are."""
    inbound, outbound = _table(source), _to(target)
    unknown: list[str] = []
    parts = []
    for token in _WORD.findall(text):
        if not token[0].isalpha():
            parts.append(token)
            continue
        common = inbound.get(token.lower())
        if common is None:
            unknown.append(token)
            parts.append(token)
            continue
        translated = outbound[common]
        parts.append(translated.capitalize() if token[0].isupper() else translated)
    return "".join(parts), unknown
