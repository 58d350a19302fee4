"""How payments tells the apps above it about money (DESIGN.md §2b).

Each signal is sent from `transaction.on_commit` with `payment_id` (and `status`). Receivers do
one thing: enqueue their own task with that id, so a slow receiver never holds up the payment
transaction and a failing one never rolls it back.

`payment_authorized` is an addition to the four in DESIGN.md: a hold (manual capture) is
authorised long before it succeeds, and checkout needs to know.

`payment_canceled` is another: Stripe cancels an uncaptured hold by itself (the authorisation
expires after about 7 days, or someone cancels it in the Dashboard), and the access the hold
granted must not outlive the money it secured. It is sent for every payment that reaches
`canceled`, whoever canceled it (a staff release too); receivers decide what it means.
"""

from django.dispatch import Signal

payment_succeeded = Signal()
payment_failed = Signal()
payment_refunded = Signal()
payment_disputed = Signal()
payment_authorized = Signal()
payment_canceled = Signal()
