from django.conf import settings


def portal(request):
    return {
        "PORTAL_NAME": settings.PORTAL_NAME,
        "SELLER_SUPPORT_EMAIL": settings.SELLER_SUPPORT_EMAIL,
    }
