"""Email and SMS delivery. Local and test settings override the backends."""

import environ

env = environ.Env()

DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Portal <no-reply@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = 10

SMS_BACKEND = env("SMS_BACKEND", default="config.sms.HttpSmsBackend")
SMS_HTTP_URL = env("SMS_HTTP_URL", default="")
SMS_HTTP_TOKEN = env("SMS_HTTP_TOKEN", default="")
SMS_FROM = env("SMS_FROM", default="Portal")
