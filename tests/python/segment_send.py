"""Sends one of each tracking call with Segment's own Python client, as an
app's backend would, to the collector at HOST with WRITE_KEY, for the
visitor ANONYMOUS_ID who signs up as USER_ID. The message ids are fixed by
RUN, so running it twice with the same arguments is a resend.

    python segment_send.py HOST WRITE_KEY ANONYMOUS_ID USER_ID RUN

Exits non-zero, printing why, when the client reports an error.
"""

import sys

from segment.analytics import Client

host, write_key, anonymous_id, user_id, run = sys.argv[1:6]
errors = []
client = Client(
    write_key,
    host=host,
    on_error=lambda error, batch: errors.append(f"{error} ({len(batch)} messages)"),
    max_retries=1,
    upload_size=100,
)


def message_id(call):
    return f"py-{run}-{call}"


client.page(
    anonymous_id=anonymous_id,
    name="Docs",
    category="Help",
    properties={"url": "https://shop.example/docs/install", "title": "Installing", "referrer": "https://search.example/"},
    message_id=message_id("page"),
)
client.screen(
    anonymous_id=anonymous_id,
    name="Order Details",
    properties={"order": 7},
    context={"app": {"namespace": "com.example.shop"}},
    message_id=message_id("screen"),
)
client.track(
    anonymous_id=anonymous_id,
    user_id=user_id,
    event="Order Completed",
    properties={"total": 42.5, "currency": "EUR", "shipping": {"method": "express", "days": 2}, "coupon": None},
    context={"campaign": {"source": "newsletter", "medium": "email", "name": "spring"}},
    message_id=message_id("track"),
)
client.identify(
    user_id=user_id,
    anonymous_id=anonymous_id,
    traits={"plan": "pro", "address": {"city": "Lyon"}},
    message_id=message_id("identify"),
)
client.alias(previous_id=anonymous_id, user_id=user_id, message_id=message_id("alias"))
client.flush()
client.join()
if errors:
    sys.exit("; ".join(errors))
