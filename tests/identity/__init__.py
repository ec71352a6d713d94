"""Identity tests: real slapd and oidc-provider on loopback."""
