"""Staff logins: the one authentication backend and its brute-force limits (config/auth.py)."""

import environ

env = environ.Env()

# Django's ModelBackend behind failed-login limits. Instead of ModelBackend, not next to it: a
# backend listed after it would be asked again whenever it refuses a locked login.
AUTHENTICATION_BACKENDS = ["config.auth.LoginThrottledModelBackend"]
# Failed logins allowed per username (compared ignoring case) and per client IP in a fixed
# window. The failure that uses one up locks that username or IP until the window ends, even
# for the right password; the lock is logged and written to the audit log.
ADMIN_LOGIN_FAILURES_PER_USERNAME = env.int("ADMIN_LOGIN_FAILURES_PER_USERNAME", default=5)
ADMIN_LOGIN_FAILURES_PER_IP = env.int("ADMIN_LOGIN_FAILURES_PER_IP", default=20)
ADMIN_LOGIN_FAILURE_WINDOW_SECONDS = env.int("ADMIN_LOGIN_FAILURE_WINDOW_SECONDS", default=15 * 60)
