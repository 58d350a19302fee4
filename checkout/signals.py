"""How checkout tells the apps above it about its customer emails (DESIGN.md §2b).

`notification_delivered` is sent on commit with `notification_id` and `status` when an email
was sent or bounced: an app whose documents went with it (receipts) records the delivery.
Receivers only enqueue their own task.
"""

from django.dispatch import Signal

notification_delivered = Signal()
