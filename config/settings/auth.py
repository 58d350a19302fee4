"""Staff logins: the authentication backends and the brute-force lockouts (django-axes,
with the rules in config/auth.py)."""

import environ

env = environ.Env()

# axes refuses a locked-out client before anyone checks the password; then the growing delay
# for a username guessed at from many clients; then Django's own password check.
AUTHENTICATION_BACKENDS = [
    "config.auth.LoginLockoutBackend",
    "config.auth.LoginGuessDelayBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Failed logins allowed for one username from one client, and from one client over all
# usernames, within the cool-off. A client is an IPv4 address or an IPv6 /64. The failure that
# uses one up locks that username for that client (or the whole client) until the cool-off after
# its last failure has passed; the lock is logged and written to the audit log.
ADMIN_LOGIN_FAILURES_PER_USERNAME = env.int("ADMIN_LOGIN_FAILURES_PER_USERNAME", default=5)
ADMIN_LOGIN_FAILURES_PER_IP = env.int("ADMIN_LOGIN_FAILURES_PER_IP", default=20)
ADMIN_LOGIN_FAILURE_WINDOW_SECONDS = env.int("ADMIN_LOGIN_FAILURE_WINDOW_SECONDS", default=15 * 60)
# A username failed from many clients (a distributed guess) is never locked, so nobody can lock
# a colleague out; past ADMIN_LOGIN_FAILURES_PER_USERNAME failures over all clients each attempt
# at it waits, twice as long per further failure (from ADMIN_LOGIN_DELAY_SECONDS), up to
# ADMIN_LOGIN_DELAY_MAX_SECONDS.
ADMIN_LOGIN_DELAY_SECONDS = env.float("ADMIN_LOGIN_DELAY_SECONDS", default=0.5)
ADMIN_LOGIN_DELAY_MAX_SECONDS = env.float("ADMIN_LOGIN_DELAY_MAX_SECONDS", default=4.0)

AXES_HANDLER = "config.auth.StaffLoginAttempts"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_FAILURE_LIMIT = "config.auth.login_failure_limit"
AXES_COOLOFF_TIME = "config.auth.login_cool_off"
AXES_CLIENT_IP_CALLABLE = "config.http.client_network"
AXES_USERNAME_CALLABLE = "config.auth.login_username"
AXES_LOCKOUT_TEMPLATE = "config/login_locked.html"
# A lock lasts the cool-off from the failure that set it; tries while locked do not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_SENSITIVE_PARAMETERS = ["password"]
# One successful login is recorded per sign-in by Django's own last_login; axes' access log
# would only grow.
AXES_DISABLE_ACCESS_LOG = True

# Two-factor sign-in for staff (TOTP with backup codes, config/two_factor.py). Required for every
# staff user when True (always in production); when False, only staff who enrolled are asked.
OTP_REQUIRED_FOR_STAFF = env.bool("OTP_REQUIRED_FOR_STAFF", default=True)
OTP_TOTP_ISSUER = env("PORTAL_NAME", default="Lead-to-cash portal")
STAFF_BACKUP_CODES = 10
# A staff session ends after this long without a request (and the cookie with it).
STAFF_SESSION_IDLE_SECONDS = env.int("STAFF_SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_COOKIE_HTTPONLY = True
# The staff home: a lead counts as "near its SLA" this long before its first response is due,
# and a card hold as "about to lapse" this long before Stripe would cancel it.
STAFF_HOME_SLA_WARNING_MINUTES = env.int("STAFF_HOME_SLA_WARNING_MINUTES", default=60)
STAFF_HOME_HOLD_WARNING_HOURS = env.int("STAFF_HOME_HOLD_WARNING_HOURS", default=24)
