"""A labelled evaluation set the detector did not grow up with.

The values come from outside sources, not from the generator's templates: libphonenumber's example numbers
for every region it knows (fixed line and mobile, in national, international and E.164 form), Faker's
providers in 24 locales (names, e-mails, phones that libphonenumber calls valid for the locale, IBANs,
SSNs, cards, IPs), and look-alikes that must survive (part numbers, order ids, ISBNs, timestamps, versions,
coordinates, prices, tracking numbers). They are laid out as chat text is: sentences with the locale's own
words, e-mail signatures, CSV rows, log lines, markdown tables, numbers written right next to other numbers,
and values right after a placeholder that replaced an earlier one.

Names (`NAME`) and postal addresses (`ADDRESS`) are labelled too, so detectors that claim to find them
(Presidio) can be scored. Each record has `messages`, `pii_spans` (as the generator's), `lookalikes`
(`{message, start, end, kind}`, spans that must not be redacted) and `locale` (the Faker locale, or
`libphonenumber` for its examples).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from faker import Faker
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from services.curator.core.spans import PiiType
from services.curator.core.validators import card_ok, iban_ok, isbn_ok

# Faker locale -> words people put before a phone number in that language.
PHONE_WORDS: dict[str, tuple[str, ...]] = {
    "en_US": ("Call me at", "My cell is", "Phone:", "You can reach me on", "Text me at"),
    "en_GB": ("Ring me on", "Mobile:", "Tel:", "My number is", "Give us a call on"),
    "en_AU": ("Call me on", "Mob:", "Ph:", "My number's"),
    "en_CA": ("Call me at", "Cell:", "Phone:"),
    "en_IE": ("Ring me on", "Mobile:", "Tel:"),
    "en_IN": ("Call me on", "Mobile:", "Contact no.", "My number is"),
    "de_DE": ("Ruf mich an unter", "Telefon:", "Handy:", "Tel.:", "Meine Nummer ist"),
    "de_AT": ("Rufen Sie mich an unter", "Tel.:", "Mobil:"),
    "de_CH": ("Telefon:", "Natel:", "Erreichbar unter"),
    "fr_FR": ("Appelez-moi au", "Tél. :", "Mon portable :", "Mon numéro est le"),
    "it_IT": ("Chiamami al", "Tel.", "Il mio cellulare è", "Numero:"),
    "es_ES": ("Llámame al", "Tel.:", "Mi móvil es el", "Teléfono:"),
    "nl_NL": ("Bel me op", "Tel.:", "Mijn nummer is", "Mobiel:"),
    "nl_BE": ("Bel me op", "Tel.:", "GSM:"),
    "pt_BR": ("Ligue para", "Meu celular é", "Telefone:"),
    "pt_PT": ("Ligue para o", "Telemóvel:", "Tel.:"),
    "pl_PL": ("Zadzwoń pod", "Tel.:", "Komórka:"),
    "sv_SE": ("Ring mig på", "Tel:", "Mobil:"),
    "da_DK": ("Ring til mig på", "Tlf.:", "Mobil:"),
    "no_NO": ("Ring meg på", "Tlf:", "Mobil:"),
    "fi_FI": ("Soita numeroon", "Puh.", "Puhelin:"),
    "cs_CZ": ("Volejte na", "Tel.:", "Mobil:"),
    "ro_RO": ("Sunați la", "Tel:", "Mobil:"),
    "tr_TR": ("Beni arayın:", "Tel:", "Cep:"),
}
LOCALES = tuple(PHONE_WORDS)
# Phrasings where the words that say "phone" come after the number.
PHONE_WORDS_AFTER = ("is the best number to reach me", "is my cell", "(mobile)", "is my direct line")
SSN_BEFORE = ("SSN:", "Social Security number", "my SSN is", "SSN on file:", "ID on file:")
SSN_AFTER = ("is the ID on file", "is my social security number", "(SSN)")
_CARD_TYPES = ("visa13", "visa16", "visa19", "mastercard", "amex", "discover", "diners", "jcb15")
_PHONE_TYPES = (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE)
_FORMATS = (PhoneNumberFormat.NATIONAL, PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.E164)
LOOKALIKE_KINDS = (
    "part number",
    "order id",
    "isbn",
    "timestamp",
    "version",
    "coordinates",
    "price",
    "tracking number",
)


def libphonenumber_examples() -> list[tuple[str, str]]:
    """(region, formatted number) for every region's fixed-line and mobile example in every format."""
    examples = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        seen = set()
        for kind in _PHONE_TYPES:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is None or not phonenumbers.is_valid_number(number):
                continue
            for style in _FORMATS:
                text = phonenumbers.format_number(number, style)
                if text not in seen:
                    seen.add(text)
                    examples.append((region, text))
    return examples


class _Message:
    """Text built piece by piece, with the offsets of its labelled values."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.pii: list[tuple[int, int, PiiType]] = []
        self.lookalikes: list[tuple[int, int, str]] = []

    def text(self, piece: str) -> _Message:
        self.parts.append(piece)
        self.length += len(piece)
        return self

    def value(self, piece: str, kind: PiiType) -> _Message:
        self.pii.append((self.length, self.length + len(piece), kind))
        return self.text(piece)

    def lookalike(self, piece: str, kind: str) -> _Message:
        self.lookalikes.append((self.length, self.length + len(piece), kind))
        return self.text(piece)


class IndependentSet:
    """Draws labelled chat records; the same seed gives the same records."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._fakers = {}
        for offset, locale in enumerate(LOCALES):
            faker = Faker(locale)
            faker.seed_instance(seed * 7919 + offset)
            self._fakers[locale] = faker
        self._examples = libphonenumber_examples()
        self._lookalikes: dict[str, Callable[[], str]] = {
            "part number": self._part_number,
            "order id": self._order_id,
            "isbn": self._isbn,
            "timestamp": self._timestamp,
            "version": self._version,
            "coordinates": self._coordinates,
            "price": self._price,
            "tracking number": self._tracking,
        }
        self._layouts = (
            self._sentence,
            self._signature,
            self._csv_row,
            self._log_line,
            self._table,
            self._adjacent,
            self._after_placeholder,
            self._bare_with_context,
            self._lookalike_paragraph,
        )

    def records(self, count: int) -> Iterator[dict[str, Any]]:
        for index in range(count):
            if index % 5 == 4:
                yield self._example_record(index)
                continue
            locale = LOCALES[index % len(LOCALES)]
            message = self._rng.choice(self._layouts)(locale, _Message())
            yield _record(f"ind-{index:06d}", locale, message)

    # --- values -------------------------------------------------------------------------------------------

    def _phone(self, locale: str) -> str:
        """A phone number Faker writes for the locale, kept when libphonenumber calls it valid there."""
        faker, region = self._fakers[locale], locale.split("_")[1]
        for _ in range(50):
            raw = faker.phone_number()
            try:
                number = phonenumbers.parse(raw, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number) and number.extension is None:
                return raw.strip()
        number = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
        return phonenumbers.format_number(number, self._rng.choice(_FORMATS[:2]))

    def _written_phone(self, locale: str) -> str:
        """A phone number with its separators: Faker's own layout, or libphonenumber's national one for the
        bare digit runs Faker sometimes prints. Next to other numbers, with no word around it, a bare run is
        an id to any reader, so it is not labelled as a phone there."""
        raw = self._phone(locale)
        if any(c.isdigit() for c in raw) and not raw.isdigit():
            return raw
        number = phonenumbers.parse(raw, locale.split("_")[1])
        return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)

    def _email(self, locale: str) -> str:
        faker = self._fakers[locale]
        return self._rng.choice((faker.email, faker.free_email, faker.company_email))()

    def _ssn(self) -> str:
        ssn = self._fakers["en_US"].ssn()
        return self._rng.choice((ssn, ssn.replace("-", " ")))

    def _card(self, locale: str) -> str:
        digits = self._fakers["en_US"].credit_card_number(self._rng.choice(_CARD_TYPES))
        assert card_ok(digits), digits
        style = self._rng.random()
        if style < 0.4 or len(digits) not in (15, 16):
            return digits
        separator = self._rng.choice(" -")
        groups = (4, 6, 5) if len(digits) == 15 else (4, 4, 4, 4)
        return separator.join(_split(digits, groups))

    def _iban(self, locale: str) -> str:
        faker = self._fakers[locale if locale in _IBAN_LOCALES else self._rng.choice(_IBAN_LOCALES)]
        iban = faker.iban()
        assert iban_ok(iban), iban
        return iban if self._rng.random() < 0.5 else " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))

    def _ip(self, locale: str) -> str:
        faker = self._fakers[locale]
        return self._rng.choice((faker.ipv4_public, faker.ipv4_private, faker.ipv6))()

    def _pii(self, kind: PiiType, locale: str) -> str:
        if kind is PiiType.PHONE:
            return self._phone(locale)
        if kind is PiiType.EMAIL:
            return self._email(locale)
        if kind is PiiType.SSN:
            return self._ssn()
        if kind is PiiType.CARD:
            return self._card(locale)
        if kind is PiiType.IBAN:
            return self._iban(locale)
        return self._ip(locale)

    # --- look-alikes --------------------------------------------------------------------------------------

    def _digits(self, count: int) -> str:
        return str(self._rng.randint(1, 9)) + "".join(str(self._rng.randint(0, 9)) for _ in range(count - 1))

    def _part_number(self) -> str:
        shape = self._rng.choice(((2, 4, 4), (3, 4, 3), (4, 3, 4), (2, 3, 3, 2), (5, 5)))
        return (
            self._rng.choice("-. ").join(self._digits(n) for n in shape)
            if len(shape) > 2
            else "-".join(self._digits(n) for n in shape)
        )

    def _order_id(self) -> str:
        return self._rng.choice(
            (
                lambda: "#" + "-".join((self._digits(4), self._digits(3), self._digits(4))),
                lambda: f"{self._digits(3)}-{self._digits(7)}-{self._digits(7)}",
                lambda: f"ORD-{self._rng.randint(2019, 2026)}-{self._digits(6)}",
                lambda: self._digits(self._rng.choice((8, 9, 10, 11))),
            )
        )()

    def _isbn(self) -> str:
        faker = self._fakers["en_US"]
        value = self._rng.choice((faker.isbn13, faker.isbn10))(separator="-")
        assert isbn_ok(value.replace("-", "")), value
        return value

    def _timestamp(self) -> str:
        moment = self._fakers["en_US"].date_time_between(_EARLIEST, _LATEST, tzinfo=UTC)
        return self._rng.choice(
            (
                moment.strftime("%Y-%m-%d %H:%M:%S"),
                moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                moment.strftime("%d/%m/%Y %H:%M"),
                moment.strftime("%d.%m.%Y"),
                str(int(moment.timestamp())),
                str(int(moment.timestamp() * 1000)),
            )
        )

    def _version(self) -> str:
        parts = [str(self._rng.randint(0, 20)) for _ in range(self._rng.choice((3, 4)))]
        return self._rng.choice(("", "v")) + ".".join(parts)

    def _coordinates(self) -> str:
        faker = self._fakers["en_US"]
        lat, lon = faker.latitude(), faker.longitude()
        return self._rng.choice(
            (f"{lat:.4f}, {lon:.4f}", f"{lat:.6f},{lon:.6f}", f"{abs(lat):.4f}° N {abs(lon):.4f}° W")
        )

    def _price(self) -> str:
        amount = self._rng.randint(100, 9_999_999) / 100
        return self._rng.choice(
            (
                f"${amount:,.2f}",
                f"{amount:,.2f} USD",
                f"€{amount:.2f}".replace(".", ","),
                f"{amount:,.2f}".replace(",", " ") + " €",
            )
        )

    def _tracking(self) -> str:
        return self._rng.choice(
            (
                lambda: "1Z" + self._digits(3).upper() + "A" + self._digits(11),
                lambda: " ".join(_split("9400" + self._digits(18), (4, 4, 4, 4, 4, 2))),
                lambda: " ".join(_split(self._digits(12), (4, 4, 4))),
                lambda: self._digits(10),
            )
        )()

    def _add_lookalike(self, message: _Message, kind: str | None = None) -> _Message:
        kind = kind or self._rng.choice(LOOKALIKE_KINDS)
        words = _LOOKALIKE_WORDS[kind]
        return message.text(self._rng.choice(words) + " ").lookalike(self._lookalikes[kind](), kind)

    # --- layouts ------------------------------------------------------------------------------------------

    def _sentence(self, locale: str, m: _Message) -> _Message:
        faker = self._fakers[locale]
        m.value(faker.first_name(), PiiType.NAME).text(f" here. {self._rng.choice(PHONE_WORDS[locale])} ")
        m.value(self._phone(locale), PiiType.PHONE)
        m.text(" or e-mail ").value(self._email(locale), PiiType.EMAIL).text(". ")
        if self._rng.random() < 0.5:
            self._add_lookalike(m.text("About "), None).text(".")
        return m

    def _signature(self, locale: str, m: _Message) -> _Message:
        faker = self._fakers[locale]
        m.text("Thanks,\n--\n").value(faker.name(), PiiType.NAME).text(f"\n{faker.job()}\n")
        if self._rng.random() < 0.5:
            m.value(_one_line(faker.address()), PiiType.ADDRESS).text("\n")
        m.text(self._rng.choice(("T: ", "Tel ", "Phone: ", "M: ", "☎ "))).value(self._phone(locale), PiiType.PHONE)
        m.text("\n").value(self._email(locale), PiiType.EMAIL).text("\n")
        if self._rng.random() < 0.5:
            m.text("IBAN ").value(self._iban(locale), PiiType.IBAN).text("\n")
        return m

    def _csv_row(self, locale: str, m: _Message) -> _Message:
        faker = self._fakers[locale]
        m.text("name,phone,email,card,ip\n")
        m.text('"').value(faker.name(), PiiType.NAME).text('",').value(self._phone(locale), PiiType.PHONE).text(",")
        m.value(self._email(locale), PiiType.EMAIL).text(",").value(self._card(locale), PiiType.CARD).text(",")
        return m.value(self._ip(locale), PiiType.IP).text("\n")

    def _log_line(self, locale: str, m: _Message) -> _Message:
        m.lookalike(self._timestamp(), "timestamp").text(" INFO auth.login user=")
        m.value(self._email(locale), PiiType.EMAIL).text(" src=").value(self._ip(locale), PiiType.IP)
        m.text(" build=").lookalike(self._version(), "version").text(" ")
        if self._rng.random() < 0.5:
            m.text("ssn=").value(self._ssn(), PiiType.SSN)
        else:
            m.text("order=").lookalike(self._order_id(), "order id")
        return m.text("\n")

    def _table(self, locale: str, m: _Message) -> _Message:
        faker = self._fakers[locale]
        m.text("| customer | phone | IBAN | part |\n|---|---|---|---|\n")
        for _ in range(self._rng.randint(1, 3)):
            m.text("| ").value(faker.name(), PiiType.NAME).text(" | ").value(self._phone(locale), PiiType.PHONE)
            m.text(" | ")
            m.value(self._iban(locale), PiiType.IBAN).text(" | ").lookalike(self._part_number(), "part number")
            m.text(" |\n")
        return m

    def _adjacent(self, locale: str, m: _Message) -> _Message:
        """Numbers written back to back: a look-alike or another value directly before a phone, a card after."""
        m.text("Ref ")
        first = self._rng.random()
        if first < 0.4:
            m.lookalike(self._order_id(), "order id")
        elif first < 0.7:
            m.value(self._ssn(), PiiType.SSN)
        else:
            m.lookalike(self._part_number(), "part number")
        m.text(" ").value(self._written_phone(locale), PiiType.PHONE)
        if self._rng.random() < 0.5:
            m.text(" ").value(self._card(locale), PiiType.CARD)
        return m.text(" thanks")

    def _after_placeholder(self, locale: str, m: _Message) -> _Message:
        """A text scrubbed once before, with a new value right after a placeholder."""
        kind = self._rng.choice((PiiType.PHONE, PiiType.CARD, PiiType.SSN, PiiType.IBAN, PiiType.EMAIL, PiiType.IP))
        m.text(f"Old contact {self._rng.choice(('[PHONE]', '[EMAIL]', '[CARD]'))} ")
        value = self._written_phone(locale) if kind is PiiType.PHONE else self._pii(kind, locale)
        return m.value(value, kind).text(" updated.")

    def _bare_with_context(self, locale: str, m: _Message) -> _Message:
        """Unformatted numbers that only the words around them identify."""
        if self._rng.random() < 0.5:
            digits = "".join(c for c in self._ssn() if c.isdigit())
            if self._rng.random() < 0.5:
                return m.text(f"{self._rng.choice(SSN_BEFORE)} ").value(digits, PiiType.SSN).text(".")
            return m.text("Note: ").value(digits, PiiType.SSN).text(f" {self._rng.choice(SSN_AFTER)}.")
        number = phonenumbers.parse(self._phone(locale), locale.split("_")[1])
        national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
        bare = "".join(c for c in national if c.isdigit())
        if self._rng.random() < 0.5:
            return m.text(f"{self._rng.choice(PHONE_WORDS[locale])} ").value(bare, PiiType.PHONE).text(".")
        return m.text("FYI ").value(bare, PiiType.PHONE).text(f" {self._rng.choice(PHONE_WORDS_AFTER)}.")

    def _lookalike_paragraph(self, locale: str, m: _Message) -> _Message:
        m.text(f"{self._fakers[locale].sentence()} ")
        for kind in self._rng.sample(LOOKALIKE_KINDS, 3):
            self._add_lookalike(m, kind).text(". ")
        m.text("Card on file ").value(self._card(locale), PiiType.CARD)
        if self._rng.random() < 0.5:
            m.text(". Ship to ").value(_one_line(self._fakers[locale].address()), PiiType.ADDRESS)
        return m.text(".")

    def _example_record(self, index: int) -> dict[str, Any]:
        region, number = self._rng.choice(self._examples)
        m = _Message()
        m.text(self._rng.choice(("Contact: ", "Tel ", "phone ", "Reach the office at "))).value(number, PiiType.PHONE)
        if self._rng.random() < 0.5:
            self._add_lookalike(m.text(", "), None)
        m.text(".")
        record = _record(f"lpn-{index:06d}", "libphonenumber", m)
        record["region"] = region
        return record


# A fixed window, so the same seed gives the same timestamps on any day.
_EARLIEST, _LATEST = datetime(2019, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
_IBAN_LOCALES = tuple(
    locale for locale in LOCALES if locale not in ("en_US", "en_CA", "en_AU", "en_IN", "pt_BR", "ro_RO", "sv_SE")
)
_LOOKALIKE_WORDS = {
    "part number": ("part", "P/N", "replacement part", "Teilenummer"),
    "order id": ("order", "Order ID", "Bestellung", "commande"),
    "isbn": ("ISBN", "ISBN-13", "the book"),
    "timestamp": ("at", "logged", "since"),
    "version": ("version", "upgraded to", "release"),
    "coordinates": ("at coordinates", "GPS", "location"),
    "price": ("total", "it costs", "price"),
    "tracking number": ("tracking", "shipment", "parcel"),
}


def _one_line(address: str) -> str:
    return address.replace("\n", ", ")


def _split(digits: str, groups: tuple[int, ...]) -> list[str]:
    parts, cursor = [], 0
    for size in groups:
        parts.append(digits[cursor : cursor + size])
        cursor += size
    return parts


def _record(record_id: str, locale: str, message: _Message) -> dict[str, Any]:
    return {
        "id": record_id,
        "locale": locale,
        "messages": [{"role": "user", "content": "".join(message.parts)}],
        "pii_spans": [{"message": 0, "start": s, "end": e, "type": k.value} for s, e, k in message.pii],
        "lookalikes": [{"message": 0, "start": s, "end": e, "kind": k} for s, e, k in message.lookalikes],
    }
