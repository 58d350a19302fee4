"""The customer portal (filled in by the next commit)."""

from django.http import Http404


def _not_yet(request, **kwargs):
    raise Http404("The customer portal is not open yet.")


portal_link_request = portal = card_setup = card_save = balance_pay = _not_yet
