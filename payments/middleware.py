from django.conf import settings

from payments import gateway


class StripeCallBudgetMiddleware:
    """Every Stripe call made while answering one request shares one time budget
    (`STRIPE_WEB_BUDGET_SECONDS`, below the web worker's timeout): see gateway.call_budget."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with gateway.call_budget(settings.STRIPE_WEB_BUDGET_SECONDS):
            return self.get_response(request)
