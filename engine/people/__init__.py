"""People and their credentials: accounts and roles, out-of-office delegation, service accounts,
API tokens, the sign-in throttle and session generations."""

from engine.people import sessions as _sessions  # noqa: F401  (its flush hook ends sessions on a new password)
