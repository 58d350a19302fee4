from django.urls import path

from leads import api, views

app_name = "leads"

urlpatterns = [
    path("start/", views.lead_start, name="start"),
    path("start/thanks/", views.lead_start_thanks, name="start-thanks"),
    path("consent/confirm/<str:token>/", views.consent_confirm, name="consent-confirm"),
    path("consent/withdraw/<str:token>/", views.consent_withdraw_link, name="consent-withdraw"),
    path("api/v1/leads/", api.LeadCaptureAPI.as_view(), name="api-capture"),
    path("api/v1/leads/consent-texts/", api.ConsentTextsAPI.as_view(), name="api-consent-texts"),
]
