"""How payments tells the apps above it about money (DESIGN.md §2b).

Each signal is sent from `transaction.on_commit` with `payment_id` (and `status`). Receivers do
one thing: enqueue their own task with that id, so a slow receiver never holds up the payment
transaction and a failing one never rolls it back.

`payment_authorized` is an addition to the four in DESIGN.md: a hold (manual capture) is
authorised long before it succeeds, and checkout needs to know.
"""

from django.dispatch import Signal

payment_succeeded = Signal()
payment_failed = Signal()
payment_refunded = Signal()
payment_disputed = Signal()
payment_authorized = Signal()
