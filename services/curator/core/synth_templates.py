"""Conversation templates for the seed's five agents. `{slot}` marks a value drawn at generation time.

PII slots: email, phone, bare_phone (after a phone word), ssn, bare_ssn (after "SSN"), card, iban, ip.
Look-alike slots: order, isbn, timestamp, epoch, uuid, hash, ref16, tracking, date, time, price, version,
zip, invoice, count, bad_iban (wrong check digits), bad_ssn (impossible area/group/serial), mac, coordinates. Plain slots: name, company, city, address, product.
"""

from __future__ import annotations

SYSTEM_PROMPTS: dict[str, str] = {
    "qa": "You are the QA agent. Reproduce reported defects, name the failing component and propose a test.",
    "content": "You are the content agent. Write clear marketing and documentation copy in the brand voice.",
    "legal": "You are the legal agent. Review contracts and correspondence and flag obligations and risks.",
    "support": "You are the support agent. Resolve customer issues politely and protect customer data.",
    "analyst": "You are the analyst agent. Answer questions about logs, metrics and business data precisely.",
}

USER_TEMPLATES: dict[str, tuple[str, ...]] = {
    "qa": (
        "Checkout fails for {email} on build {version}: the card form rejects {card} with error {hash}. Logged at {timestamp}.",
        "Regression in {version}: request {uuid} from {ip} timed out after {count} ms. Reporter: {name} ({email}).",
        "Test account {email} / phone {phone} cannot verify. SMS sent at {time}, order {order} stuck since {date}.",
        "The IBAN validator accepts {ref16} but rejects {iban}. Commit {hash}, ticket {invoice}.",
        "Load test from {ip} and {ip} hit {count} rps; the dashboard shows {epoch} as the start. Version {version}.",
        "Repro: sign up as {email}, enter SSN {ssn}, then pay with {card}. Fails at {timestamp} on {version}.",
        "Bug {order}: ISBN {isbn} is parsed as a phone number and masked. Expected {isbn} to stay visible.",
        "The validator must reject the fixtures IBAN {bad_iban} and SSN {bad_ssn}; device {mac} at {coordinates} is fine.",
        "User {name} says the phone log shows {bare_phone} instead of {phone}. Check the formatter in {version}.",
    ),
    "content": (
        "Write a launch post for {product} ({price}). Mention ISBN {isbn} of the companion book and send drafts to {email}.",
        "Draft a newsletter for {company}. Event on {date} at {time} in {city}; RSVP to {email} or call {phone}.",
        "Rewrite this bio: {name}, {city}, reachable at {email}, speaks at {count} events a year, version {version} of the deck.",
        "Create an FAQ for {product}: price {price}, shipping with tracking {tracking}, support line {phone}.",
        "Summarise the press release dated {date}: {company} raises {price}; contact {name} at {email}.",
        "Write product copy for order {order}'s bundle: {product}, {price}, ships from {address}.",
    ),
    "legal": (
        "Review the lease for {name} (SSN {ssn}), {address}. Rent of {price} goes to IBAN {iban} from {date}.",
        "The NDA signed {date} lists {email} and {phone} for notices. Is clause {count} enforceable in {city}?",
        "Client {name} disputes invoice {invoice} for {price}; payment came from {iban} on {date} with reference {ref16}.",
        "Employment file: {name}, social security number {bare_ssn}, start date {date}, payroll IBAN {iban}.",
        "Subpoena requests logs for {ip} between {timestamp} and {timestamp}, plus records for {email}.",
        "Contract {uuid} version {version}: the supplier {company} wants notices at {email}; fax {phone}.",
    ),
    "support": (
        "Hi, I was charged twice for order {order} ({price}). My card is {card}, you can call me on {phone}.",
        "I never got package {tracking}. Ordered {date}, email {email}, phone {phone}. Order {order}.",
        "Please update my payout account to {iban} and my phone to {phone}. Customer id {uuid}.",
        "My statement shows {date} {card} {price} that I did not make. Reach me at {email}.",
        "Refund for invoice {invoice} please. Contact: {phone} {card} is the card I paid with on {date}.",
        "Login blocked from {ip} at {time}. My account email is {email}, ssn {ssn} for verification.",
        "Call me at {bare_phone} about order {order}, or text {phone}. Total was {price}.",
        "Change my address to {address}. Old one had zip {zip}. Account {email}, order {order}.",
    ),
    "analyst": (
        "Top errors since {timestamp}: {count} from {ip}, {count} from {ip}. Trace ids {uuid} and {hash}.",
        "Revenue on {date} was {price} across {count} orders; biggest order {order} by {email}.",
        "Compare latency of {version} and {version} for requests from {ip} between {time} and {time}.",
        "Fraud check: card {card} used from {ip} and {ip} within {count} seconds at {timestamp}.",
        "Devices {mac} and {mac} reported from {coordinates} at {timestamp}; rejected IBAN {bad_iban} in batch {order}.",
        "Which accounts share phone {phone}? One is {email}, created {date}, epoch {epoch}.",
        "Reconcile payments: {iban} sent {price} with reference {ref16} on {date}; matching order {order}.",
    ),
}

ASSISTANT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "qa": (
        "Reproduced on {version}. The failure is in the validator; I added a test with order {order} and timestamp {timestamp}.",
        "Confirmed: request {uuid} fails after {count} ms. I will contact the reporter at {email} when the fix lands.",
        "The build {version} masks {isbn} incorrectly. Test case added under ticket {invoice}.",
    ),
    "content": (
        "Here is the draft for {product}. It mentions the price {price} and the date {date}. I sent it to {email}.",
        "Draft ready: {count} words, event details on {date} at {time}, RSVP line {phone}.",
        "Done. The copy references ISBN {isbn} and tracking {tracking} for the pre-order.",
    ),
    "legal": (
        "Clause {count} requires notice to {email} within 30 days of {date}; the IBAN {iban} matches the schedule.",
        "The invoice {invoice} of {price} is payable; reference {ref16} is not a card number and needs no masking.",
        "Notices must go to {phone} and {email}. The contract {uuid} is at {version}.",
    ),
    "support": (
        "Thanks! I refunded {price} for order {order} to the card on file. We will call {phone} if needed.",
        "I opened a trace for package {tracking} dated {date}. Updates will go to {email}.",
        "Your payout IBAN is now {iban}. For security we also sent a code to {phone}.",
    ),
    "analyst": (
        "{count} errors came from {ip}; the rest were spread over {count} hosts. First seen {timestamp}.",
        "On {date}, revenue was {price}. Order {order} was the largest; its owner is {email}.",
        "Latency p95 moved from {count} ms on {version} to {count} ms; host {ip} is the outlier.",
    ),
}

FOLLOW_UP_TEMPLATES: tuple[str, ...] = (
    "Thanks. Also, the second account is {email} and its backup phone is {phone}. Can you check both before {date}?",
    "One more thing: the payment on {date} used {card}, and the refund should go to {iban}.",
    "Step two: compare it with the run at {timestamp} from {ip}, then list the differences by order {order}.",
    "Follow-up: please verify SSN {ssn} against the file and confirm by phone at {phone}.",
    "Next, correlate request {uuid} with tracking {tracking} and explain why {ref16} was rejected.",
)

# Sentences an assistant adds around the facts; they make replies as long as real training answers and
# keep the PII density realistic for throughput measurements.
EXPLANATIONS: dict[str, tuple[str, ...]] = {
    "qa": (
        "The failure only appears when the cache is cold, which is why the nightly run did not catch it.",
        "I bisected the change history and the first bad commit touches the input normaliser.",
        "A unit test now covers the boundary case, and the integration suite runs it against staging.",
        "The flaky retry logic hid the error for two releases because it swallowed the exception.",
        "Please attach the full log next time; the summary line drops the stack trace we need.",
        "The fix is small, but it changes behaviour for empty inputs, so I flagged it in the changelog.",
        "Performance is unchanged within noise: the median stays near {count} ms over ten runs.",
        "I also checked the older release {version} and it behaves the same way.",
    ),
    "content": (
        "The tone stays friendly and direct, with short sentences and one idea per paragraph.",
        "I moved the key benefit into the headline so readers see it before they scroll.",
        "Each section ends with a clear call to action that links to the product page.",
        "The draft avoids jargon and explains the one technical term it keeps.",
        "I kept the length under the limit for the newsletter template, including the footer.",
        "Two alternative subject lines are included so the team can test them against each other.",
        "The launch date of {date} appears in the first paragraph and again in the closing line.",
    ),
    "legal": (
        "This is not legal advice; a qualified lawyer in the relevant jurisdiction should confirm it.",
        "The limitation of liability clause caps damages at the fees paid in the previous twelve months.",
        "The termination clause requires written notice, and e-mail counts as written notice here.",
        "Automatic renewal applies unless either party objects at least thirty days before the end date.",
        "The governing law clause points to a court far from the client, which raises the cost of disputes.",
        "The indemnity is one-sided; I suggest making it mutual before signature.",
        "Payment terms of net {count} days are unusual for this kind of agreement.",
    ),
    "support": (
        "I am sorry for the trouble, and I understand how frustrating a duplicate charge is.",
        "The second charge is a pending authorisation and usually disappears within three to five business days.",
        "For your security I cannot read out full card or bank details in this chat.",
        "If anything else looks wrong on your statement, reply to this message and I will look into it.",
        "Our courier partner updates tracking once a day, so the status may lag behind the parcel.",
        "I have added a note to your account so the next agent sees the whole history.",
        "The refund of {price} should reach your account within {count} business days.",
    ),
    "analyst": (
        "The spike lines up with the deployment window, so the release is the most likely cause.",
        "I excluded health-check traffic, which otherwise inflates request counts by about a third.",
        "Percentiles are computed per minute and then averaged, so short bursts are smoothed out.",
        "The data has a gap of a few minutes where the collector restarted; the totals are slightly low.",
        "Grouping by region shows the same pattern everywhere, which rules out a single bad host.",
        "Revenue is reported in the account currency and converted at the daily rate.",
        "The query scanned {count} rows and finished in under a second on the warehouse.",
    ),
}
