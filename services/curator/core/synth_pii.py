"""Realistic PII values in the many shapes people type them, for the labelled synthetic data set."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable

import phonenumbers
from faker import Faker
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from services.curator.core.spans import PiiType
from services.curator.core.validators import IBAN_LENGTHS, iban_ok, luhn_ok

# Regions whose numbers appear in national format too; the rest appear only in international format,
# which is how a text from abroad writes them. (The detector now knows every region; see core/phones.py.)
NATIONAL_REGIONS = ("US", "GB", "DE", "FR", "NL", "IE", "CH", "AT", "AU", "IN")
INTERNATIONAL_ONLY_REGIONS = ("ES", "IT", "BR", "JP", "MX", "PL", "SE", "SG", "ZA", "NG", "KR", "AR")
IBAN_LOCALES = (
    "de_DE",
    "en_GB",
    "fr_FR",
    "nl_NL",
    "es_ES",
    "it_IT",
    "pl_PL",
    "pt_PT",
    "de_AT",
    "de_CH",
    "en_IE",
    "no_NO",
    "fi_FI",
    "da_DK",
    "cs_CZ",
    "tr_TR",
)
EMAIL_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "en_IN")
_PHONE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE)
# Faker's own networks; JCB and the Mastercard 2-series are drawn here because Faker's JCB prefixes include
# 3500-3527, which no issuer uses.
_FAKER_CARD_TYPES = ("visa16", "visa13", "visa19", "mastercard", "amex", "discover", "diners")
_OWN_CARD_RANGES = {"jcb": (3528, 3589), "mastercard2": (2221, 2720)}


class PiiFactory:
    """Draws PII values; every value is valid by construction (checksums, number plans), so it is a true label."""

    def __init__(self, rng: random.Random, seed: int) -> None:
        self._rng = rng
        locales = sorted(set(IBAN_LOCALES) | set(EMAIL_LOCALES))
        self._fakers: dict[str, Faker] = {}
        for offset, locale in enumerate(locales):
            faker = Faker(locale)
            faker.seed_instance(seed * 1009 + offset)
            self._fakers[locale] = faker
        self.draw: dict[PiiType, Callable[[], str]] = {
            PiiType.EMAIL: self.email,
            PiiType.PHONE: self.phone,
            PiiType.SSN: self.ssn,
            PiiType.CARD: self.card,
            PiiType.IBAN: self.iban,
            PiiType.IP: self.ip,
        }

    def faker(self, locale: str = "en_US") -> Faker:
        return self._fakers[locale]

    def email(self) -> str:
        # Some Faker locales put commas or spaces into local parts ("bourgondië,van@"); those are not
        # addresses anyone can write to, so they are drawn again.
        while True:
            address = self._email()
            if "," not in address and " " not in address:
                return address

    def _email(self) -> str:
        faker = self._fakers[self._rng.choice(EMAIL_LOCALES)]
        style = self._rng.randrange(6)
        if style == 0:
            return faker.company_email()
        if style == 1:
            user, _, domain = faker.free_email().partition("@")
            return f"{user}+{faker.word()}@{domain}"
        if style == 2:
            return f"{faker.first_name()}.{faker.last_name()}@{faker.domain_word()}.{faker.tld()}".lower().replace(
                " ", ""
            )
        if style == 3:
            return f"{faker.user_name()}@mail.{faker.domain_name()}".upper()
        if style == 4:
            return f"{faker.user_name()}{self._rng.randrange(10, 99)}@{faker.domain_word()}.co.uk"
        return faker.email()

    def phone(self) -> str:
        if self._rng.random() < 0.3:
            region = self._rng.choice(INTERNATIONAL_ONLY_REGIONS)
            number = self._valid_number(region)
            text = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
            return self._restyle(text)
        region = self._rng.choice(NATIONAL_REGIONS)
        if region == "US" and self._rng.random() < 0.15:
            return self._rng.choice(("(555) {}-{:04d}", "555-{}-{:04d}", "555.{}.{:04d}")).format(
                self._rng.randrange(200, 1000), self._rng.randrange(10000)
            )
        number = self._valid_number(region)
        layout = self._rng.choice(
            (
                PhoneNumberFormat.NATIONAL,
                PhoneNumberFormat.NATIONAL,
                PhoneNumberFormat.INTERNATIONAL,
                PhoneNumberFormat.E164,
            )
        )
        text = phonenumbers.format_number(number, layout)
        if (
            layout == PhoneNumberFormat.INTERNATIONAL
            and region in ("GB", "DE", "CH", "AT")
            and self._rng.random() < 0.4
        ):
            code, _, rest = text.partition(" ")
            return f"{code} (0){rest}"
        text = self._restyle(text)
        if region == "US" and self._rng.random() < 0.3:
            text = self._rng.choice(
                (f"{text} ext. {self._rng.randrange(10, 9999)}", f"{text} x{self._rng.randrange(10, 999)}")
            )
        return text

    def bare_phone(self) -> str:
        """A national number typed without any separator; only recognisable with a word like "call" before it."""
        number = self._valid_number(self._rng.choice(NATIONAL_REGIONS))
        return "".join(c for c in phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL) if c.isdigit())

    def _restyle(self, text: str) -> str:
        """The library's layout, or the same digits grouped with dots or dashes as people also write them."""
        style = self._rng.randrange(4)
        if style == 1 and "(" not in text:
            return text.replace(" ", ".").replace("-", ".").replace("+.", "+")
        if style == 2:
            return text.replace(" ", "-").replace("(-", "(").replace(")-", ") ")
        return text

    def _valid_number(self, region: str) -> phonenumbers.PhoneNumber:
        example = phonenumbers.example_number_for_type(region, self._rng.choice(_PHONE_TYPES))
        significant = phonenumbers.national_significant_number(example)
        free = min(6, len(significant) - 3)
        while True:
            tail = "".join(str(self._rng.randrange(10)) for _ in range(free))
            number = phonenumbers.parse(f"+{example.country_code}{significant[:-free]}{tail}", None)
            if phonenumbers.is_valid_number(number):
                return number

    def ssn(self) -> str:
        digits = self._fakers["en_US"].ssn().replace("-", "")
        separator = self._rng.choice(("-", "-", " "))
        return f"{digits[:3]}{separator}{digits[3:5]}{separator}{digits[5:]}"

    def bare_ssn(self) -> str:
        return self._fakers["en_US"].ssn().replace("-", "")

    def card(self) -> str:
        kind = self._rng.choice(_FAKER_CARD_TYPES + tuple(_OWN_CARD_RANGES))
        if kind in _OWN_CARD_RANGES:
            digits = self._luhn_number(self._rng.randrange(_OWN_CARD_RANGES[kind][0], _OWN_CARD_RANGES[kind][1] + 1))
        else:
            digits = self._fakers["en_US"].credit_card_number(kind)
        separator = self._rng.choice(("", " ", " ", "-"))
        if not separator:
            return digits
        if len(digits) in (14, 15):  # Diners and Amex print as 4-6-4 and 4-6-5
            return separator.join((digits[:4], digits[4:10], digits[10:]))
        return separator.join(digits[i : i + 4] for i in range(0, len(digits), 4))

    def _luhn_number(self, prefix: int) -> str:
        """Sixteen digits starting with a four-digit `prefix`, with a valid Luhn check digit."""
        body = str(prefix) + "".join(str(self._rng.randrange(10)) for _ in range(11))
        return next(body + d for d in "0123456789" if luhn_ok(body + d))

    def iban(self) -> str:
        while True:
            compact = self._fakers[self._rng.choice(IBAN_LOCALES)].iban()
            if iban_ok(compact) and compact[:2] in IBAN_LENGTHS:
                break
        if self._rng.random() < 0.4:
            return compact
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))

    def ip(self) -> str:
        faker = self._fakers["en_US"]
        style = self._rng.randrange(5)
        if style == 0:
            return faker.ipv4_private()
        if style == 1:
            return ipaddress.IPv6Address(faker.ipv6()).compressed
        if style == 2:
            return faker.ipv6()
        return faker.ipv4_public()
