"""How payments tells the apps above it about money (DESIGN.md §2b).

Each signal is sent from `transaction.on_commit`, with `payment_id`. Receivers do one thing:
enqueue their own task with that id.
"""

from django.dispatch import Signal

payment_succeeded = Signal()
payment_failed = Signal()
payment_refunded = Signal()
payment_disputed = Signal()
