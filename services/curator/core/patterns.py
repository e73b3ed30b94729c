"""Candidate regular expressions. They over-match on purpose; validators decide.

Every pattern refuses to start or end inside a larger token (the look-behinds and look-aheads), so a
candidate never borrows digits from a neighbouring number, a hash or a version string.
"""

from __future__ import annotations

import re

ANY_DIGIT = re.compile(r"\d")

# Where a number may begin: a digit, "+" or "(" that does not continue a word or a dotted token. Every
# numeric pattern below is tried only at these positions, so the text is scanned once for all of them.
NUMBER_START = re.compile(r"(?<![\w.])[\d+(]")

# E-mail addresses are found from their "@": the local part is matched backwards on the reversed text
# (the pattern is its own mirror image), the domain forwards. Scanning every position for a local part
# would be the slowest pass of all.
EMAIL_LOCAL_REVERSED = re.compile(r"[\w%+-]+(?:[.'’][\w%+-]+)*")
EMAIL_LOCAL_BOUNDARY = frozenset(".%+'’-")
EMAIL_DOMAIN = re.compile(r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}(?![\w-]|\.[^\W_])")
EMAIL_LOCAL_MAX = 64

# IBAN: compact, or in groups of four separated by single spaces with a shorter last group.
IBAN_START = re.compile(r"[A-Z][A-Z]\d\d")
IBAN = re.compile(r"(?<![\w-])[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)(?![\w-])")

# Cards: 13-19 contiguous digits, 4-4-4-4(-3) groups, or the 4-6-5 (Amex) / 4-6-4 (Diners) layout, with one
# consistent separator; 19-digit numbers print as 4-4-4-4-3. The validator may drop a trailing group that
# belongs to a number written right after the card.
_CARD = (
    r"(?<![\w.,+-])(?:\d{13,19}"
    r"|\d{4}(?P<s1>[ -])\d{4}(?P=s1)\d{4}(?P=s1)\d{1,4}(?:(?P=s1)\d{3})?"
    r"|\d{4}(?P<s2>[ -])\d{6}(?P=s2)\d{4,5})"
    r"(?!\w|[.,-]\d)"
)
_SSN = r"(?<![\w.,+-])(?P<area>\d{3})(?P<sep>[- ]?)(?P<group>\d{2})(?P=sep)(?P<serial>\d{4})(?!\w|[.,-]\d)"
_IPV4 = r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?(?!\w|\.\d)"
# One match per number start classifies it. The three shapes cannot match at the same start (a card has
# at least 13 digits, an SSN exactly nine as 3-2-4, an address has dots), so the order is only for speed.
CARD_SSN_IPV4 = re.compile(f"(?P<card>{_CARD})|(?P<ssn>{_SSN})|(?P<ipv4>{_IPV4})")

# Groups of four just before a grouped card candidate, and what marks them as the end of another number.
UNIFORM_RUN = {" ": re.compile(r"(?:\d{4} )+$"), "-": re.compile(r"(?:\d{4}-)+$")}
NUMBER_TAIL = re.compile(r"[\d)][ ./-]?$")
YEAR = re.compile(r"(?:19|20)\d\d")

# Nine bare digits are an SSN only when the text says so just before, with no other number or placeholder
# in between; otherwise they are order numbers.
SSN_CONTEXT = re.compile(r"(?i)(?:\bssn|social[ -]security|\bss#|\bsoc\.? ?sec|\bsozialversicherung)[^\d\n[\]]{0,25}$")

PHONE = re.compile(
    # Not inside a token, and not the next group of a number (or of a placeholder that replaced one) just before.
    r"(?<![\w+.\-/])(?<![\d\]] )"
    r"(?=(?:[ ()./+-]{0,3}\d){7})"  # seven digits ahead before anything else: drops prices and counts in C
    r"(?:(?:\+|00)\d{1,3}[ .-]?)?"  # country code
    r"(?:\(0\)[ .-]?)?"  # the "(0)" trunk hint in +44 (0)20 ...
    r"(?:\(\d{1,5}\)[ .-]?)?"  # area code in parentheses
    r"\d{1,12}(?:[ ./-]\d{1,10}){0,6}"  # "/" after an area code is common in Austria and Germany
    r"(?P<ext>[ ]?(?:ext\.?|x|\#)[ ]?\d{1,6})?"
    r"(?!\w|[.-]\w|:\d)",  # not followed by more of the same token or by the minutes of a time
    re.IGNORECASE,
)
# Calendar dates have phone-like digit groups and would otherwise be valid numbers in permissive plans.
DATE_SHAPE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./](?:\d{4}|\d{2})")
# An unformatted national number (no +, no separators) is a phone only after a word that says so.
PHONE_CONTEXT = re.compile(
    r"(?i)(?:\b(?:phone[sd]?|call(?:s|ed|ing)?|mobile|mob|cell(?:phone)?|fax|whats ?app|sms|text me|dial|ring"
    r"|telefon(?:nummer)?|t[ée]l[ée]phone|t[ée]l|handy|landline|hotline)\b\.?|☎)[^\d\n[\]]{0,25}$"
)

# "version 1.2.3.4" is a version string, not an address nor a dotted phone number.
VERSION_CONTEXT = re.compile(r"(?i)\b(?:v|ver|version|release|build|firmware)\.?\s*$")
IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?:/\d{1,3})?(?![\w:]|\.\d)"
)
