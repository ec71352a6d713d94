"""People and their credentials: accounts and roles, out-of-office delegation, service accounts,
API tokens and the sign-in throttle."""
