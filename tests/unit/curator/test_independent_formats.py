"""Values drawn by Faker's own providers, not by our generator: a check that the detector did not simply
learn the generator's formats. Phone numbers are kept only where libphonenumber calls them valid."""

import phonenumbers
import pytest
from faker import Faker

from services.curator.core.spans import PiiType

PHONE_LOCALES = {
    "en_US": "US",
    "en_GB": "GB",
    "de_DE": "DE",
    "fr_FR": "FR",
    "nl_NL": "NL",
    "de_CH": "CH",
    "de_AT": "AT",
    "en_AU": "AU",
}
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
    "no_NO",
    "fi_FI",
    "da_DK",
    "cs_CZ",
    "tr_TR",
    "en_IE",
)
# Faker's jcb16 uses prefixes 3500-3527, which no issuer has; its maestro numbers have 12 digits.
CARD_TYPES = ("visa13", "visa16", "visa19", "mastercard", "amex", "discover", "diners", "jcb15")


def found_whole(detector, value: str, kind: PiiType, sentence: str = "Details: {} (see above).") -> bool:
    # Phones go after "call": an unformatted national number counts only after a word that says phone.
    text = sentence.format(value)
    spans = detector.detect(text)
    return (
        len(spans) == 1
        and spans[0].kind == kind
        and text[spans[0].start : spans[0].end].strip("()") == value.strip("()")
    )


@pytest.mark.parametrize(("locale", "region"), PHONE_LOCALES.items())
def test_faker_phone_numbers_found_when_valid_for_a_configured_region(detector, locale, region):
    faker = Faker(locale)
    faker.seed_instance(5)
    numbers = []
    while len(numbers) < 60:
        number = faker.phone_number()
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(number, region)):
                numbers.append(number)
        except phonenumbers.NumberParseException:
            continue
    missed = [n for n in numbers if not found_whole(detector, n, PiiType.PHONE, "Please call {} tomorrow.")]
    assert len(missed) <= len(numbers) * 0.03, missed


def test_faker_ibans_found_for_every_locale_that_has_them(detector):
    values = []
    for locale in IBAN_LOCALES:
        faker = Faker(locale)
        faker.seed_instance(6)
        values += [faker.iban() for _ in range(20)]
    assert [v for v in values if not found_whole(detector, v, PiiType.IBAN)] == []


@pytest.mark.parametrize("card_type", CARD_TYPES)
def test_faker_cards_found_for_every_network(detector, card_type):
    faker = Faker()
    faker.seed_instance(7)
    values = [faker.credit_card_number(card_type) for _ in range(30)]
    assert [v for v in values if not found_whole(detector, v, PiiType.CARD)] == []


def test_faker_emails_and_addresses_found_across_locales(detector):
    values = []
    for locale in ("en_US", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "en_IN"):
        faker = Faker(locale)
        faker.seed_instance(8)
        values += [faker.email() for _ in range(20)] + [faker.free_email() for _ in range(10)]
    assert [v for v in values if not found_whole(detector, v, PiiType.EMAIL)] == []
    faker = Faker()
    faker.seed_instance(9)
    ips = [faker.ipv4() for _ in range(30)] + [faker.ipv6() for _ in range(30)]
    assert [v for v in ips if not found_whole(detector, v, PiiType.IP)] == []


def test_national_numbers_found_when_a_region_without_trunk_prefix_is_configured():
    from services.curator.core.pii import PiiDetector

    polish = PiiDetector(["PL", "IT"])
    assert polish.scrub("Zadzwoń: 661 573 681 lub 02 1234 5678.")[0] == "Zadzwoń: [PHONE] lub [PHONE]."
