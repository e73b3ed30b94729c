import ipaddress
import random

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.curator.core.phones import PhoneValidator, Verdict, _format_ends, _plan
from services.curator.core.pii import DEFAULT_PHONE_REGIONS
from services.curator.core.validators import card_ok, iban_ok, ipv4_ok, ipv6_ok, isbn_ok, luhn_ok, ssn_ok


def with_luhn_digit(body: str) -> str:
    """Independent Luhn check-digit computation (doubling from the right of the payload)."""
    total = 0
    for i, char in enumerate(reversed(body)):
        digit = int(char) * (2 if i % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return body + str((10 - total % 10) % 10)


class TestLuhn:
    @pytest.mark.parametrize("number", ["4111111111111111", "79927398713", "0"])
    def test_luhn_accepts_valid_check_digit_when_sum_is_multiple_of_ten(self, number):
        assert luhn_ok(number)

    @pytest.mark.parametrize("number", ["4111111111111112", "79927398710"])
    def test_luhn_rejects_number_when_check_digit_is_wrong(self, number):
        assert not luhn_ok(number)

    @pytest.mark.parametrize("number", ["2221000000000\u06600", "\u0664111111111111111", "", "4111-1111"])
    def test_luhn_rejects_without_raising_when_not_all_ascii_digits(self, number):
        assert not luhn_ok(number)
        assert not card_ok(number)


class TestCards:
    @pytest.mark.parametrize(
        "number",
        [
            "4111111111111111",
            "4222222222222",
            with_luhn_digit("400000000000000000"),  # Visa 16, 13, 19
            "5555555555554444",
            "5105105105105100",  # Mastercard 51-55
            "2221000000000009",
            "2223003122003222",
            "2720999999999996",  # Mastercard 2-series, both ends
            "378282246310005",
            "371449635398431",  # Amex, 15 digits
            "6011111111111117",
            with_luhn_digit("644000000000000"),
            with_luhn_digit("650000000000000"),  # Discover
            "30569309025904",
            "36227206271667",
            "38520000023237",  # Diners, 14 digits
            "3530111333300000",
            "3566002020360505",  # JCB
            "6200000000000005",  # UnionPay
        ],
    )
    def test_card_accepted_when_network_prefix_length_and_luhn_match(self, number):
        assert card_ok(number)

    @pytest.mark.parametrize(
        "number",
        [
            "4111111111111112",  # Luhn fails: a 16-digit reference number
            with_luhn_digit("222000000000000"),  # just below the Mastercard 2-series
            with_luhn_digit("272100000000000"),  # just above it
            with_luhn_digit("3700000000000000"),  # Amex prefix with 17 digits
            with_luhn_digit("940000000000000"),  # no network starts with 94
            with_luhn_digit("350000000000000"),  # 3500 is below the JCB range
            "411111111111",  # 12 digits
        ],
    )
    def test_card_rejected_when_prefix_length_or_checksum_is_wrong(self, number):
        assert not card_ok(number)


class TestIban:
    @pytest.mark.parametrize(
        "iban",
        [
            "DE89370400440532013000",
            "GB82WEST12345698765432",
            "FR1420041010050500013M02606",
            "NL91ABNA0417164300",
            "ES9121000418450200051332",
            "IT60X0542811101000000123456",
            "CH9300762011623852957",
            "BE68539007547034",
            "NO9386011117947",
            "MT84MALT011000012345MTLCAST001S",
            "AT611904300234573201",
        ],
    )
    def test_iban_accepted_when_mod_97_is_one_and_length_matches_country(self, iban):
        assert iban_ok(iban)

    @pytest.mark.parametrize(
        "iban",
        [
            "DE88370400440532013000",  # check digits off by one
            "DE8937040044053201300",  # one character short for Germany
            "GB82WEST123456987654321",  # one character long for the UK
            "XX89370400440532013000",  # not a country in the registry
            "DEAB370400440532013000",  # check digits must be digits
        ],
    )
    def test_iban_rejected_when_checksum_length_or_country_is_wrong(self, iban):
        assert not iban_ok(iban)


@pytest.mark.parametrize(
    ("area", "group", "serial", "valid"),
    [
        ("123", "45", "6789", True),
        ("001", "01", "0001", True),
        ("665", "99", "9999", True),
        ("000", "45", "6789", False),
        ("666", "45", "6789", False),
        ("900", "45", "6789", False),
        ("999", "45", "6789", False),
        ("123", "00", "6789", False),
        ("123", "45", "0000", False),
    ],
)
def test_ssn_follows_area_group_serial_rules_when_checked(area, group, serial, valid):
    assert ssn_ok(area, group, serial) is valid


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("192.168.1.10", True),
        ("8.8.8.8", True),
        ("256.1.1.1", False),
        ("01.2.3.4", False),
        ("1.2.3", False),
    ],
)
def test_ipv4_valid_only_when_four_octets_in_range(text, valid):
    assert ipv4_ok(text) is valid


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="0123456789.٣/x ", max_size=17) | st.from_regex(r"\A(?:\d{1,4}\.){3}\d{1,4}\Z"))
def test_ipv4_accepts_exactly_what_ipaddress_accepts_when_given_any_text(text):
    try:
        ipaddress.IPv4Address(text)
        library = True
    except ValueError:
        library = False
    assert ipv4_ok(text) is library


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("2001:db8::1", True),
        ("fe80::1ff:fe23:4567:890a", True),
        ("::ffff:192.0.2.1", True),
        ("::1", True),
        ("10:32:11", False),
        ("00:1A:2B:3C:4D:5E", False),
        ("::", False),
        ("2001:db8:::1", False),
    ],
)
def test_ipv6_valid_only_when_ipaddress_parses_it(text, valid):
    assert ipv6_ok(text) is valid


@settings(max_examples=3000, deadline=None)
@given(
    st.text(alphabet="0123456789abcdefABCDEFg:.%/٣", max_size=45)
    | st.from_regex(r"\A(?:[0-9a-fA-Fg٣]{0,5}:){5,8}[0-9a-fA-F.]{0,7}\Z")
)
def test_ipv6_accepts_exactly_what_ipaddress_accepts_when_given_any_text(text):
    try:
        ipaddress.IPv6Address(text)
        library = text != "::"
    except ValueError:
        library = False
    assert ipv6_ok(text) is library


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("9780306406157", True),
        ("0306406152", True),
        ("080442957X", True),
        ("9780306406158", False),
        ("0306406153", False),
    ],
)
def test_isbn_checksum_decides_when_digits_look_like_a_book_number(digits, valid):
    assert isbn_ok(digits) is valid


class TestPhones:
    validator = PhoneValidator(DEFAULT_PHONE_REGIONS)

    @pytest.mark.parametrize(
        "number",
        [
            "(201) 555-0123",
            "201.555.0123",
            "201 555 0123",
            "+1 201 555 0123",
            "1-800-555-0199",
            "+44 20 7946 0958",
            "+44 (0)20 7946 0958",
            "020 7946 0958",
            "07700 900123",
            "030 12345678",
            "+49 (0)30 12345678",
            "+33 1 23 45 67 89",
            "01.23.45.67.89",
            "201-555-0123 ext. 12",
            "201-555-0123x12",
            "+91 98765 43210",
            "+81 3-1234-5678",
            "(02) 9876 5432",
            "+34 612 34 56 78",
            "+39 02 1234 5678",
            "0044 20 7946 0958",
            "(555) 123-4567",
        ],
    )
    def test_phone_accepted_when_valid_for_a_configured_region_or_international(self, number):
        assert self.validator.is_phone(number)

    @pytest.mark.parametrize(
        "number",
        [
            "123 456 7890",  # NANP area codes never start with 1
            "201 155 0123",  # nor do exchanges
            "20240115",  # a date: no trunk 0, not ten digits
            "+44 20 7946",  # too short for the UK
        ],
    )
    def test_phone_rejected_when_no_region_plan_accepts_it(self, number):
        assert not PhoneValidator(["US", "GB"]).is_phone(number)

    @pytest.mark.parametrize(
        ("number", "verdict"),
        [
            ("612 34 56 78", Verdict.GROUPED),  # Spain, national format
            ("02 1234 5678", Verdict.GROUPED),  # Italy keeps its leading zero
            ("98765 43210", Verdict.GROUPED),  # an Indian mobile, written without the trunk 0
            ("020 7946 0958", Verdict.GROUPED),
            ("51-2928-7387", Verdict.VALID),  # valid in Brazil, grouped like a part number: needs a phone word
            ("20 7946 0958", Verdict.VALID),  # UK without its trunk 0: needs a phone word
            ("2079460958", Verdict.VALID),  # no separators at all: needs a phone word
            ("41 7763-8107", Verdict.GROUPED),  # Brazil: the library prints "(41) 7763-8107", no trunk 0
            ("11 91234-5678", Verdict.GROUPED),  # a Brazilian mobile in the same layout
            ("41-7763-8107", Verdict.VALID),  # the same digits in a part number's layout
            ("917 00 439", Verdict.GROUPED),  # a Norwegian mobile in the 3-2-3 layout of Norway's 8xx numbers
            ("917-00-439", Verdict.VALID),  # ... but not in a layout Norway never prints
            ("217 00 439", Verdict.VALID),  # a Norwegian landline keeps the library's 2-2-2-2 grouping
            ("+39 02 1234 5678", Verdict.INTERNATIONAL),
            ("(+358) 9 123 4567", Verdict.INTERNATIONAL),
            ("0000 0000", Verdict.INVALID),
        ],
    )
    def test_verdict_depends_on_region_and_grouping_when_numbers_are_national(self, number, verdict):
        assert self.validator.verdict(number) is verdict

    def test_unknown_region_raises_when_configured(self):
        with pytest.raises(ValueError, match="XX"):
            PhoneValidator(["XX"])


def test_fixed_group_ends_match_the_regex_when_any_number_of_that_length_fits_a_format():
    """The grouping test uses group ends computed from each format's pattern without matching; they must be
    the ends the format's regex gives for every number it matches, in every region the library knows."""
    rng = random.Random(5)
    compared = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for length, formats in _plan(region).formats.items():
            for known in formats:
                if known.fixed_ends is None:
                    continue
                for _ in range(40):
                    national = "".join(rng.choice("0123456789") for _ in range(length))
                    if (match := known.pattern.fullmatch(national)) is not None:
                        assert _format_ends(match, length) == known.fixed_ends, (region, known.pattern.pattern)
                        compared += 1
    assert compared > 500
