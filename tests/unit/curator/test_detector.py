"""Our detector on the cases the seed's regexes get wrong, and on the traps between neighbouring numbers."""

import itertools

import pytest

from services.curator.core.seed_baseline import seed_scrub_text
from services.curator.core.spans import PiiType


def scrubbed(detector, text: str) -> str:
    return detector.scrub(text)[0]


class TestSeedFailures:
    """Each known leak of the seed's regexes: the seed fails it, we pass it."""

    @pytest.mark.parametrize("phone", ["(201) 555-0123", "201 555 0123", "+44 20 7946 0958", "+1 (201) 555-0123"])
    def test_phone_replaced_when_written_with_spaces_or_parentheses(self, detector, phone):
        text = f"Call {phone} now"
        assert scrubbed(detector, text) == "Call [PHONE] now"
        assert seed_scrub_text(text) != "Call [PHONE] now"

    @pytest.mark.parametrize("ssn", ["123 45 6789"])
    def test_ssn_replaced_when_written_with_spaces(self, detector, ssn):
        assert scrubbed(detector, f"SSN {ssn}.") == "SSN [SSN]."
        assert "[SSN]" not in seed_scrub_text(f"SSN {ssn}.")

    def test_ssn_replaced_when_bare_digits_follow_an_ssn_word(self, detector):
        text = "my social security number is 123456789."
        assert scrubbed(detector, text) == "my social security number is [SSN]."
        assert "[SSN]" not in seed_scrub_text(text)

    @pytest.mark.parametrize("amex", ["378282246310005", "3782 822463 10005", "3714-496353-98431"])
    def test_amex_replaced_when_fifteen_digits(self, detector, amex):
        assert scrubbed(detector, f"Amex {amex} ok") == "Amex [CARD] ok"
        assert "[CARD]" not in seed_scrub_text(f"Amex {amex} ok")

    @pytest.mark.parametrize("reference", ["4111111111111112", "1234 5678 9012 3456"])
    def test_sixteen_digit_reference_kept_when_luhn_fails(self, detector, reference):
        text = f"Reference {reference} attached"
        assert scrubbed(detector, text) == text
        assert seed_scrub_text(text) != text

    def test_iban_replaced_whole_when_the_seed_redacts_its_middle(self, detector):
        text = "Pay to DE89 3704 0044 0532 0130 00 please"
        assert scrubbed(detector, text) == "Pay to [IBAN] please"
        assert seed_scrub_text(text) == "Pay to DE89 [CARD] 00 please"


class TestNeighbours:
    def test_card_found_when_a_date_precedes_it(self, detector):
        assert (
            scrubbed(detector, "On 2024-01-15 4111 1111 1111 1111 was declined") == "On 2024-01-15 [CARD] was declined"
        )

    def test_card_found_when_a_year_precedes_it_with_the_same_grouping(self, detector):
        assert scrubbed(detector, "20 May 2022 4111 1111 1111 1111 $5") == "20 May 2022 [CARD] $5"

    def test_phone_and_card_kept_apart_when_written_back_to_back(self, detector):
        assert scrubbed(detector, "Contact: 201-555-0123 4111 1111 1111 1111") == "Contact: [PHONE] [CARD]"
        assert scrubbed(detector, "Contact: 020 7946 0958 5555 5555 5555 4444 x") == "Contact: [PHONE] [CARD] x"

    def test_trailing_number_left_out_when_card_is_followed_by_another_group(self, detector):
        assert scrubbed(detector, "card 4111 1111 1111 1111 2024") == "card [CARD] 2024"

    def test_iban_stops_at_country_length_when_a_group_follows(self, detector):
        assert scrubbed(detector, "AT61 1904 3002 3457 3201 2024") == "[IBAN] 2024"

    def test_no_card_inside_a_long_uniformly_grouped_tracking_number(self, detector):
        text = "tracking 9400 1111 2222 3333 4444 5555 66"
        assert scrubbed(detector, text) == text

    def test_digits_of_a_bad_iban_not_reported_as_phone_when_checksum_fails(self, detector):
        text = "fixture GB83 WEST 1234 5698 7654 32 must fail"
        assert scrubbed(detector, text) == text

    def test_impossible_ssn_not_reported_as_phone(self, detector):
        assert scrubbed(detector, "test SSN 000-12-3456") == "test SSN 000-12-3456"


@pytest.mark.parametrize(
    "lookalike",
    [
        "order 520-5191537-7003690",
        "ISBN 978-3-16-148410-0",
        "ISBN 0-306-40615-2",
        "at 2024-03-15T10:32:11Z",
        "at 2024-03-15 10:32:11",
        "id 550e8400-e29b-41d4-a716-446655440000",
        "sha 3c8326f1670fd61824d0df74e7e1492287ebf549",
        "due 15.03.2024",
        "due 03/15/2024",
        "price $1,299.99",
        "price 1 234,56 EUR",
        "version 1.2.3.4",
        "v10.0.19045.2965",
        "order 483920175",
        "order 2015550123",
        "epoch 1710498731",
        "mac 00:1A:2B:3C:4D:5E",
        "zip 94105-1234",
        "tracking 1Z999AA10123456784",
        "invoice INV-2024-00042",
        "at 10:32:11",
        "std::vector<int>",
    ],
)
def test_lookalike_kept_when_it_is_not_pii(detector, lookalike):
    assert detector.detect(lookalike) == []


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("mail john.doe+news@mail.example.co.uk.", PiiType.EMAIL),
        ("mail JOHN@EXAMPLE.COM", PiiType.EMAIL),
        ("mail jörg.müller@beispiel.de", PiiType.EMAIL),
        ("host 192.168.1.10:8080", PiiType.IP),
        ("net 10.0.0.0/8", PiiType.IP),
        ("host 2001:db8::1", PiiType.IP),
        ("host fe80::1ff:fe23:4567:890a%eth0", PiiType.IP),
        ("iban GB82WEST12345698765432", PiiType.IBAN),
        ("tel 02079460958", PiiType.PHONE),
    ],
)
def test_value_detected_with_its_type_when_present(detector, text, kind):
    assert [span.kind for span in detector.detect(text)] == [kind]


def test_spans_sorted_and_disjoint_when_many_types_are_mixed(detector):
    text = (
        "Mail a@b.io, call +1 201-555-0123, card 3782 822463 10005, IBAN NL91ABNA0417164300, "
        "SSN 123-45-6789, ip 8.8.8.8 and 2001:db8::1."
    )
    spans = detector.detect(text)
    assert [s.kind for s in spans] == [
        PiiType.EMAIL,
        PiiType.PHONE,
        PiiType.CARD,
        PiiType.IBAN,
        PiiType.SSN,
        PiiType.IP,
        PiiType.IP,
    ]
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


class TestNumbersOutsideOurGenerator:
    """The shapes an outside labelled set found: national numbers of any home region, numbers written back to
    back, bare digits that only their context words identify, and part numbers that must survive."""

    @pytest.mark.parametrize(
        "text",
        [
            "Replacement part 51-2928-7387 is in stock.",
            "Use 51-2928-7387 for the left hinge.",
            "Use 41-7763-8107 for the right hinge.",  # Brazilian digits, a part number's layout
            "Bin 917-00-439 is empty.",  # Norwegian mobile digits, a layout Norway never prints
            "order 123456789 shipped",
            "Invoice 4421-3345-12 paid",
            "| part |\n|---|\n| 79652-83478 |",  # a valid Indian mobile in shape, but the column says part
            "parcel 9400 4577 3658 9430 1852 83",
            "GPS 48.856613,2.352222",
            "build=2.8.17.2",
            "zip 94105-1234",
        ],
    )
    def test_number_kept_when_its_shape_or_words_say_it_is_no_pii(self, detector, text):
        assert detector.detect(text) == []

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("Order #6899-851-9315 404-712-9999 call back", [("404-712-9999", PiiType.PHONE)]),
            ("745 09 1351 (212) 332-4068", [("745 09 1351", PiiType.SSN), ("(212) 332-4068", PiiType.PHONE)]),
            ("Ref ORD-2024-767139 020 7946 0958 thanks", [("020 7946 0958", PiiType.PHONE)]),
            ("Call me at 1 (629) 370-3560 now", [("1 (629) 370-3560", PiiType.PHONE)]),
        ],
    )
    def test_adjacent_numbers_segmented_without_joining_or_swallowing_when_written_back_to_back(
        self, detector, text, expected
    ):
        assert [(text[s.start : s.end], s.kind) for s in detector.detect(text)] == expected

    @pytest.mark.parametrize(
        ("text", "value", "kind"),
        [
            ("4045551234 is the best number to reach me", "4045551234", PiiType.PHONE),
            ("Chiamami al 3208206704.", "3208206704", PiiType.PHONE),
            ("Erreichbar unter 0810765111.", "0810765111", PiiType.PHONE),
            ("123456789 is the ID on file.", "123456789", PiiType.SSN),
            ("ID on file: 078051120", "078051120", PiiType.SSN),
            ("name,phone\nAda,0545454542", "0545454542", PiiType.PHONE),
        ],
    )
    def test_bare_number_found_when_context_words_identify_it(self, detector, text, value, kind):
        assert [(text[s.start : s.end], s.kind) for s in detector.detect(text)] == [(value, kind)]

    @pytest.mark.parametrize("bare", ["4045551234 was shipped", "ref 123456789", "0545454542"])
    def test_bare_number_kept_when_no_word_says_what_it_is(self, detector, bare):
        assert detector.detect(bare) == []

    @pytest.mark.parametrize(
        "phone",
        [
            "02 1234 5678",  # Italy
            "612 34 56 78",  # Spain
            "91 234 56 78",  # Spain, Madrid's two-digit area code (a libphonenumber alternate format)
            "98765 43210",  # India, mobile without the trunk 0
            "020 123 4567",  # the Netherlands
            "06 12345678",
            "030 1234 5678",  # Germany: a long subscriber number split in two
            "(+358) 9 123 4567",
            "41 7763-8107",  # Brazil writes the area code without its trunk 0
            "11 91234-5678",
            "917 00 439",  # a Norwegian mobile, in the layout Norwegians write mobiles in
        ],
    )
    def test_national_number_found_without_context_when_a_home_region_writes_it_so(self, detector, phone):
        assert scrubbed(detector, f"see {phone} today") == "see [PHONE] today"
