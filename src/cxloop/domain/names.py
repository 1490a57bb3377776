"""People's names as the four-eyes rule compares them (key names, actors, case owners).

- :func:`identity`: who a name stands for: Unicode NFKC, case-folded, spaces collapsed
  ("Alice  Smith" and "alice smith" are one person).
- :func:`check_name`: a name may not hold an invisible or control character (Unicode
  categories Cc, Cf, Co, Cs, Cn: a zero-width space, a bidirectional override, a soft
  hyphen): ``pagent`` followed by U+200B looks like ``pagent`` and is another string.
- :func:`skeleton`: what a name looks like: its identity with common Cyrillic and Greek
  look-alikes of Latin letters mapped to them (:data:`CONFUSABLES`, a small table after
  Unicode's confusables list: Cyrillic ``а`` is Latin ``a``, Greek ``ο`` is ``o``). Two
  different people's names must not share a skeleton: a new key whose name looks like an
  existing key's (``pаgent`` beside ``pagent``) is refused, and four eyes refuses an
  approval whose approver's name looks like the requester's.
"""

from __future__ import annotations

import unicodedata

from cxloop.errors import ConfigError

#: Cyrillic and Greek letters that look like Latin ones (after NFKC and case folding).
CONFUSABLES: dict[str, str] = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
    "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i",
    "ј": "j", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ɡ": "g",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ϲ": "c", "ϳ": "j", "ѵ": "v",
    # Latin look-alikes of Latin letters and digits
    "ı": "i", "ℓ": "l", "0": "o", "1": "l",
}  # fmt: skip
#: invisible or unassigned: control, format, private use, surrogate, unassigned
INVISIBLE = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})


def identity(name: str) -> str:
    """Unicode-normalised, case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def check_name(name: str) -> str:
    """``name`` as it will be stored (spaces trimmed), or ConfigError saying which
    character is not allowed."""
    for ch in name:
        if unicodedata.category(ch) in INVISIBLE:
            what = unicodedata.name(ch, "an invisible or control character")
            raise ConfigError(
                f"a name may not hold U+{ord(ch):04X} ({what}): it would look like another name"
            )
    return name.strip()


def skeleton(name: str) -> str:
    """What ``name`` looks like (see the module doc); invisible characters dropped."""
    seen = identity(name)
    kept = (ch for ch in seen if unicodedata.category(ch) not in INVISIBLE)
    flat = unicodedata.normalize("NFKD", "".join(kept))
    bare = "".join(ch for ch in flat if not unicodedata.combining(ch))
    return "".join(CONFUSABLES.get(ch, ch) for ch in bare)
