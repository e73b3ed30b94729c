"""Candidate regular expressions. They over-match on purpose; validators decide.

Every pattern refuses to start or end inside a larger token (the look-behinds and look-aheads), so a
candidate never borrows digits from a neighbouring number, a hash or a version string.
"""

from __future__ import annotations

import re
import string
from typing import Final, NamedTuple

# Where a number may begin: a digit, "+" or "(" that does not continue a word or a dotted token. Every
# numeric pattern below is tried only at these positions, so the text is scanned once for all of them.
# Only starts followed by seven digits (in phone punctuation: the least any card, SSN or phone has) or by an
# IPv4 shape are kept, so short numbers (counts, years, prices) never reach Python code.
# The same pass finds where an IBAN may begin (two capitals and two digits), matched at its first digit: the
# match starts two characters after the IBAN, and the engine never stops at a capital letter (prose has many).
# The character class comes first (the look-behinds check the characters before it) so the regex engine skips
# ahead to candidate characters instead of testing the look-behinds at every position.
# A start that is a digit takes the rest of its digit run with it (a digit right after a digit is never a start),
# so the search resumes after the run instead of entering the pattern at each of its digits. The separators
# before each digit are possessive (`{0,3}+`): no separator is a digit, so giving one back cannot help a match,
# and a number too short fails at once instead of after every shorter split.
STARTS: Final = re.compile(
    r"(?s)[\d+(](?:(?<=[A-Z][A-Z]\d)\d"
    r"|(?<![\w.].)(?=[\d+(]?(?:[ ()./+-]{0,3}+\d){6}|\d{0,2}\.\d{1,3}\.\d)(?:(?<=\d)\d*)?)"
)

# E-mail addresses are found from their "@": the local part is matched backwards on the reversed text
# (the pattern is its own mirror image), the domain forwards. Scanning every position for a local part
# would be the slowest pass of all.
EMAIL_LOCAL_REVERSED: Final = re.compile(r"[\w%+-]+(?:[.'’][\w%+-]+)*")
EMAIL_LOCAL_BOUNDARY: Final = frozenset(".%+'’-")
EMAIL_DOMAIN: Final = re.compile(r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}(?![\w-]|\.[^\W_])")
EMAIL_LOCAL_MAX: Final = 64

# IBAN: compact, or in groups of four separated by single spaces with a shorter last group.
IBAN: Final = re.compile(
    r"(?<![\w-])[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)(?![\w-])"
)

# Cards: 13-19 contiguous digits, 4-4-4-4(-3) groups, or the 4-6-5 (Amex) / 4-6-4 (Diners) layout, with one
# consistent separator; 19-digit numbers print as 4-4-4-4-3. The validator may drop a trailing group that
# belongs to a number written right after the card.
_CARD = (
    r"(?<![\w.+-])(?:\d{13,19}"
    r"|\d{4}(?P<s1>[ -])\d{4}(?P=s1)\d{4}(?P=s1)\d{1,4}(?:(?P=s1)\d{3})?"
    r"|\d{4}(?P<s2>[ -])\d{6}(?P=s2)\d{4,5})"
    r"(?!\w|[.-]\d)"
)
_SSN = r"(?<![\w.+-])(?P<area>\d{3})(?P<sep>[- ]?)(?P<group>\d{2})(?P=sep)(?P<serial>\d{4})(?!\w|[.-]\d)"
_IPV4 = r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?(?!\w|\.\d)"
# One match per number start classifies it. The three shapes cannot match at the same start (a card has
# at least 13 digits, an SSN exactly nine as 3-2-4, an address has dots), so the order is only for speed.
CARD_SSN_IPV4: Final = re.compile(f"(?P<card>{_CARD})|(?P<ssn>{_SSN})|(?P<ipv4>{_IPV4})")

# Groups of four just before a grouped card candidate, and what marks them as the end of another number.
UNIFORM_RUN: Final = {" ": re.compile(r"(?:\d{4} )+$"), "-": re.compile(r"(?:\d{4}-)+$")}
NUMBER_TAIL: Final = re.compile(r"[\d)][ ./-]?$")
YEAR: Final = re.compile(r"(?:19|20)\d\d")

# The context words below are searched for at the end of the text before a candidate. A search tries every
# position and, at each, every word of the alternation; each pattern therefore opens with a look-ahead for the
# first letters of its words, which rejects most positions in one test and never changes a match (a unit test
# checks that every word starts with one of them).
#
# Nine bare digits are an SSN only when the text says so just before or just after, with no other number or
# placeholder in between; otherwise they are order numbers.
SSN_CONTEXT: Final = re.compile(
    r"(?i)(?=[sit])"
    r"(?:\bssn|social[ -]security|\bss#|\bsoc\.? ?sec|\bsozialversicherung|\bid on file|\btax ?id|\btaxpayer)"
    r"[^\d\n[\]]{0,25}$"
)
SSN_CONTEXT_AFTER: Final = re.compile(
    r"(?i)[ \t]*(?:\(ssn\)|,? ?(?:is|was|=) (?:the |my |her |his |their )?(?:\w+ )?"
    r"(?:ssn|social security|id on file|tax id))"
)

PHONE: Final = re.compile(
    r"(?<![\w+.\-/])"  # not inside a token; a start right after another number is judged by the detector
    r"(?=(?:[ ()./+-]{0,3}+\d){7})"  # seven digits ahead before anything else: drops prices and counts in C
    r"(?:(?:\((?:\+|00)\d{1,3}\)|(?:\+|00)\d{1,3})[ .-]?)?"  # country code, also as "(+358)"
    r"(?:\(0\)[ .-]?)?"  # the "(0)" trunk hint in +44 (0)20 ...
    r"(?:1[ .-]?(?=\())?"  # North America's trunk "1" before "(area code)"
    r"(?:\(\d{1,5}\)[ .-]?)?"  # area code in parentheses
    r"\d{1,12}(?:(?:[ ./-]|/ )\d{1,10}){0,6}"  # "/" after an area code is common in Austria and Germany
    r"(?P<ext>[ ]?(?:ext\.?|x|\#)[ ]?\d{1,6})?"
    r"(?!\w|[.-]\w|:\d)",  # not followed by more of the same token or by the minutes of a time
    re.IGNORECASE,
)
# A candidate right after another number ("#6899-851-9315 404-712-9999") starts a new number when it opens
# with "(" or "+", or when the number before it is complete: it has 7 digits or is joined by dashes or dots.
# Otherwise it is the next group of the same number ("9400 1000 0000 ...", "24 2447-8032").
# Both shapes open with a digit, written first so the search skips to digits instead of trying every position;
# the token's tail is possessive: `$` cannot match inside it, so giving characters back only wastes time.
COMPLETE_NUMBER_BEFORE: Final = re.compile(r"\d(?:[-./]\d|[-./()]?(?:\d[-./()]?){6})\S*+$")
# A dashed or dotted token of seven digits or more is a whole number: a phone never continues past the space
# after one ("520-5191537-7003690", "6899-851-9315 404-712-9999").
WHOLE_TOKEN: Final = re.compile(r"(?=\S*\d[-.]\d)(?:\D?\d){7,}\S*")
# Four-digit groups, three or more: a card, account or reference number, never split into phone numbers.
FOUR_DIGIT_GROUPS: Final = re.compile(r"\d{4}(?: \d{4}){2,}(?: \d{1,3})?")
# A US ZIP+4 code.
ZIP_PLUS_4: Final = re.compile(r"\d{5}-\d{4}")
# A number with a single dot and at most three digits (no leading zero) before it, or two after it, is a
# decimal (a coordinate, an amount), not a dotted phone number ("030.158888", "07400.026933").
DECIMAL: Final = re.compile(r"(?:[1-9]\d{0,2}|0)\.\d+|\d+\.\d\d")
# Calendar dates have phone-like digit groups and would otherwise be valid numbers in permissive plans.
DATE_SHAPE: Final = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./](?:\d{4}|\d{2})")
# Words that say "phone" just before a number, in the languages of the chat data (a number counts only with
# nothing number-like in between).
PHONE_CONTEXT: Final = re.compile(
    r"(?i)(?=[abcdefghiklmnoprstvwz☎])"
    r"(?:\b(?:phone[sd]?|call(?:s|ed|ing)?|mobile|mob|cell(?:phone)?|fax|whats ?app|sms|text(?: me)?|dial|ring"
    r"|reach(?:able)?(?: (?:me|us|the office|him|her))?(?: at| on)?|contact(?: no| number)?|office"
    r"|landline|hotline|direct line|ph|tel|tél|t[ée]l[ée]phone|telefon\w*"
    r"|tel[ée]fono|telefone|telefoon|telemóvel|tlf|puh(?:elin)?|handy|natel|mobil|m[óo]vil|cellulare|portable"
    r"|gsm|komórka|cep|celular|erreichbar|bel(?: me)?|chiamami|llámame|ligue|appelez|zadzwoń|volejte|sunați"
    r"|soita|arayın|ruf"
    r"|(?:my|mi|il mio|mon|meine?|mijn|meu|min|mitt|moje?|our) (?:\w+ )?(?:number|n[uú]mero|nummer|numéro|numer)"
    r"|numero|número|nummer|numéro)\b\.?|☎|\b[TMF]\s?:)[^\d\n[\]]{0,25}$"
)
PHONE_CONTEXT_AFTER: Final = re.compile(
    r"(?i)[ \t]*(?:\((?:mobile|cell|home|work|office|landline|whatsapp|tel|phone)\)"
    r"|,? ?(?:is|was) (?:the |my |our |her |his |a )?(?:best |direct |main |new |mobile |cell |home |work |office )*"
    r"(?:number|line|cell|mobile|phone))"
)
# Words that say the number is something else. They outweigh a grouping that happens to be valid, never a
# word that says "phone".
NOT_PHONE_CONTEXT: Final = re.compile(
    r"(?i)(?=[abcfinoprst#])"
    r"(?:\b(?:order|part|p/n|pn|sku|item|invoice|inv|ref(?:erence)?|tracking|shipment|parcel|package|isbn"
    r"|serial|s/n|ticket|case|account|acct|po|id|no|bestellung|teilenummer|auftrag|commande|pedido|ordine"
    r"|bestelling|factura|fattura|rechnung|facture)\b\.?|#)[^\w\n[\]]{0,6}$"
)

# "version 1.2.3.4" is a version string, not an address nor a dotted phone number.
VERSION_CONTEXT: Final = re.compile(
    r"(?i)(?=[bfruv])\b(?:v|ver|version|release|build|firmware|upgraded? to|updated? to)\.?[\s=:]*$"
)
IPV6: Final = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?:/\d{1,3})?(?![\w:]|\.\d)"
)
# What every valid IPv6 address contains when it has no "::": six colon-separated groups (eight groups, or six
# and an IPv4 address). IPV6 may start anywhere, so the engine tries it at every position; this hint starts
# with a literal and is searched fast, and times ("22:45:03") do not wake it.
IPV6_FULL_HINT: Final = re.compile(r":(?:[0-9A-Fa-f]{1,4}:){5}")

# A header cell that names a phone column, in a CSV row or a markdown table above the candidate.
PHONE_HEADER: Final = re.compile(
    r"(?i)\b(?:phone|tel|mobile|cell|fax|telefon\w*|tel[ée]fono|telefone|telefoon|tlf|gsm|handy)"
)

# Prefixes of a candidate that are never phone numbers, in one match.
NOT_A_PHONE_PREFIX: Final = re.compile(
    "|".join(f"(?:{pattern.pattern})" for pattern in (DATE_SHAPE, DECIMAL, ZIP_PLUS_4))
)
# Whole candidates that are never phone numbers, checked once per candidate before any of its prefixes are tried.
NOT_A_PHONE: Final = re.compile(
    "|".join(f"(?:{pattern.pattern})" for pattern in (DATE_SHAPE, FOUR_DIGIT_GROUPS, DECIMAL, ZIP_PLUS_4))
)


def may_be_not_a_phone(candidate: str) -> bool:
    """False when neither NOT_A_PHONE nor NOT_A_PHONE_PREFIX can match the whole candidate, told from its
    separators for less than a regex call costs (most phone candidates are ruled out): a decimal has a ".",
    four-digit groups a space after the first four digits, a date or a ZIP+4 code is at most ten characters
    with a "-", "." or "/" (tests/unit/curator/test_fast_paths.py checks that the patterns never match more)."""
    return (
        "." in candidate or candidate[4:5] == " " or (len(candidate) <= 10 and ("-" in candidate or "/" in candidate))
    )


# What Unicode mode's `\s` matches among ASCII characters (it includes the separators \x1c-\x1f).
_UNICODE_SPACE_IN_ASCII = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f "
# Escapes rewritten for the ASCII copies, inside a character class and outside one (None: not in a class).
_ASCII_ESCAPES: dict[str, tuple[str | None, str]] = {
    "\\d": ("0-9", "[0-9]"),
    "\\D": (None, "[^0-9]"),
    "\\s": (_UNICODE_SPACE_IN_ASCII, f"[{_UNICODE_SPACE_IN_ASCII}]"),
    "\\S": (None, f"[^{_UNICODE_SPACE_IN_ASCII}]"),
}


def ascii_copy(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """A copy of the pattern that finds exactly the same matches in ASCII-only text, and finds them faster.

    In ASCII mode a digit test is one bitmap look-up and case folding a table look-up, where Unicode mode
    calls the Unicode database for each character. On ASCII text the two modes differ only in what the copy
    rewrites: `\\d` becomes 0-9 (a class the engine tests as one bitmap), `\\s` the ASCII characters that
    Unicode calls spaces, and a non-ASCII letter that Unicode case folding equates with an ASCII one ("ı"
    with "i") takes that letter along. `\\w` and `\\b` agree on ASCII text.
    """
    ignorecase = bool(pattern.flags & re.IGNORECASE)
    source = pattern.pattern
    pieces: list[str] = []
    in_class = False
    index = 0
    while index < len(source):
        char = source[index]
        if char == "\\":
            escape = source[index : index + 2]
            inside, outside = _ASCII_ESCAPES.get(escape, (escape, escape))
            if inside is None and in_class:
                raise ValueError(f"{escape} inside a character class has no ASCII copy: {source!r}")
            pieces.append((inside if in_class else outside) or escape)
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            # A "]" (after an optional "^") right after "[" is a literal inside the class.
            opening = re.match(r"\^?\]?", source[index + 1 :])
            if opening is not None and opening.group():
                char += opening.group()
                index += len(opening.group())
        if ignorecase and not char.isascii() and (twins := _ascii_case_twins(char)):
            if in_class:
                raise ValueError(f"{char!r} inside a character class has no ASCII copy: {source!r}")
            char = f"[{char}{twins}]"
        pieces.append(char)
        index += 1
    return re.compile("".join(pieces), (pattern.flags & ~re.UNICODE) | re.ASCII)


def _ascii_case_twins(char: str) -> str:
    """The ASCII letters that Unicode case folding treats as `char` ("ı": "iI", "K" the kelvin sign: "kK")."""
    folded = re.compile(re.escape(char), re.IGNORECASE)
    return "".join(letter for letter in string.ascii_letters if folded.fullmatch(letter))


class Scanners(NamedTuple):
    """The patterns tried at every number start and on every phone candidate and the words before it. Text
    that is all ASCII (most chat data) is scanned with their ASCII copies (`ascii_copy`): the same matches,
    found faster."""

    starts: re.Pattern[str]
    card_ssn_ipv4: re.Pattern[str]
    phone: re.Pattern[str]
    not_a_phone: re.Pattern[str]
    whole_token: re.Pattern[str]
    phone_context: re.Pattern[str]
    not_phone_context: re.Pattern[str]
    version_context: re.Pattern[str]


UNICODE_SCANNERS: Final = Scanners(
    STARTS, CARD_SSN_IPV4, PHONE, NOT_A_PHONE, WHOLE_TOKEN, PHONE_CONTEXT, NOT_PHONE_CONTEXT, VERSION_CONTEXT
)
ASCII_SCANNERS: Final = Scanners(*(ascii_copy(pattern) for pattern in UNICODE_SCANNERS))
