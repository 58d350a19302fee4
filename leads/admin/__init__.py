"""Sales staff work leads here. Every change goes through a service; consent evidence is
read-only for everyone.

Other apps add actions to the lead list from their own AppConfig.ready(), for example the
checkout app's "send a checkout link for an offer":

    from leads.admin import LeadAdmin
    LeadAdmin.actions.append(send_checkout_link)
"""

from leads.admin import evidence, readiness, routing
from leads.admin.lead import LeadAdmin

__all__ = ["LeadAdmin", "evidence", "readiness", "routing"]
