"""Strings that look like PII to a naive regex but are not: the false-positive traps of the labelled set."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from faker import Faker

from services.curator.core.validators import iban_ok, luhn_ok

_EPOCH = datetime(2019, 1, 1, tzinfo=UTC)


class LookalikeFactory:
    def __init__(self, rng: random.Random, faker: Faker) -> None:
        self._rng = rng
        self._faker = faker
        self.draw: dict[str, Callable[[], str]] = {
            "order": self.order_number,
            "isbn": self.isbn,
            "timestamp": self.timestamp,
            "epoch": self.epoch,
            "uuid": self.uuid,
            "hash": self.hash,
            "ref16": self.non_luhn_reference,
            "tracking": self.tracking_number,
            "date": self.date,
            "time": self.clock_time,
            "price": self.price,
            "version": self.version,
            "zip": self.zip_code,
            "invoice": self.invoice,
            "count": self.count,
            "bad_iban": self.invalid_iban,
            "bad_ssn": self.invalid_ssn,
            "mac": self.mac_address,
            "coordinates": self.coordinates,
        }

    def _digits(self, count: int) -> str:
        return str(self._rng.randrange(1, 10)) + "".join(str(self._rng.randrange(10)) for _ in range(count - 1))

    def order_number(self) -> str:
        return self._rng.choice(
            (
                f"#{self._digits(6)}",
                f"ORD-{self._rng.randrange(2019, 2026)}-{self._digits(6)}",
                self._digits(9),
                self._digits(10),
                f"{self._digits(3)}-{self._digits(7)}-{self._digits(7)}",
                f"A{self._digits(8)}",
            )
        )

    def isbn(self) -> str:
        return self._faker.isbn13() if self._rng.random() < 0.6 else self._faker.isbn10()

    def _moment(self) -> datetime:
        return _EPOCH + timedelta(seconds=self._rng.randrange(7 * 365 * 86400))

    def timestamp(self) -> str:
        moment = self._moment()
        return self._rng.choice(
            (
                moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                moment.strftime("%Y-%m-%d %H:%M:%S"),
                moment.isoformat(timespec="milliseconds"),
                moment.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            )
        )

    def epoch(self) -> str:
        moment = self._moment()
        return str(int(moment.timestamp()) * (1000 if self._rng.random() < 0.3 else 1))

    def uuid(self) -> str:
        return self._faker.uuid4()

    def hash(self) -> str:
        return self._rng.choice((self._faker.md5(), self._faker.sha1(), self._faker.sha256(), self._faker.sha1()[:7]))

    def non_luhn_reference(self) -> str:
        """Sixteen digits that fail the Luhn check, grouped like a card number half of the time."""
        digits = self._digits(16)
        if luhn_ok(digits):
            digits = digits[:-1] + str((int(digits[-1]) + 1) % 10)
        if self._rng.random() < 0.5:
            return " ".join(digits[i : i + 4] for i in range(0, 16, 4))
        return digits

    def tracking_number(self) -> str:
        return self._rng.choice(
            (
                "1Z" + "".join(self._rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(16)),  # UPS
                "9400 " + " ".join(self._digits(4) for _ in range(4)) + " " + self._digits(2),  # USPS
                self._digits(12),
                f"{self._digits(4)} {self._digits(4)} {self._digits(4)}",  # FedEx
                f"JJD{self._digits(18)}",  # DHL
            )
        )

    def date(self) -> str:
        moment = self._moment()
        return moment.strftime(
            self._rng.choice(
                ("%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%d/%m/%Y", "%B %d, %Y", "%d %b %Y", "%Y/%m/%d", "%m-%d-%Y")
            )
        )

    def clock_time(self) -> str:
        moment = self._moment()
        return moment.strftime(self._rng.choice(("%H:%M", "%H:%M:%S", "%I:%M %p")))

    def price(self) -> str:
        amount = self._rng.randrange(100, 500000) / 100
        return self._rng.choice(
            (
                f"${amount:,.2f}",
                f"€{amount:.2f}",
                f"{amount:,.2f} USD",
                f"{amount:,.2f} EUR".replace(",", " ").replace(".", ","),
                f"£{amount:.0f}",
            )
        )

    def version(self) -> str:
        major, minor, patch = self._rng.randrange(0, 20), self._rng.randrange(0, 40), self._rng.randrange(0, 200)
        return self._rng.choice(
            (
                f"v{major}.{minor}.{patch}",
                f"{major}.{minor}.{patch}",
                f"{major}.{minor}",
                f"{major}.{minor}.{patch}-rc.{self._rng.randrange(1, 5)}",
                f"version {major}.{minor}.{patch}.{self._rng.randrange(1, 255)}",
                f"10.0.{self._rng.randrange(19041, 22631)}.{self._rng.randrange(100, 4000)}",
            )
        )

    def zip_code(self) -> str:
        return self._rng.choice((self._faker.postcode(), f"{self._digits(5)}-{self._digits(4)}"))

    def invoice(self) -> str:
        return f"INV-{self._rng.randrange(2019, 2026)}-{self._digits(5)}"

    def count(self) -> str:
        return f"{self._rng.randrange(1, 10_000_000):,}"

    def invalid_iban(self) -> str:
        """An IBAN-shaped test value whose check digits are wrong, as in validator test fixtures."""
        compact = self._faker.iban()
        while iban_ok(compact):
            compact = compact[:2] + f"{(int(compact[2:4]) + 1) % 100:02d}" + compact[4:]
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))

    def invalid_ssn(self) -> str:
        """SSN-shaped but impossible: area 000, 666 or 9xx, group 00 or serial 0000."""
        area, group, serial = (
            f"{self._rng.randrange(1, 666):03d}",
            f"{self._rng.randrange(1, 100):02d}",
            f"{self._rng.randrange(1, 10000):04d}",
        )
        broken = self._rng.randrange(5)
        if broken < 3:
            area = ("000", "666", f"9{self._rng.randrange(100):02d}")[broken]
        elif broken == 3:
            group = "00"
        else:
            serial = "0000"
        return f"{area}-{group}-{serial}"

    def mac_address(self) -> str:
        return self._faker.mac_address().upper() if self._rng.random() < 0.5 else self._faker.mac_address()

    def coordinates(self) -> str:
        return f"{self._rng.uniform(-90, 90):.4f}, {self._rng.uniform(-180, 180):.4f}"
