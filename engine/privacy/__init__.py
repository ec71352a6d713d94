"""Personal information: sealing and masking (vault) and its records management (access log,
retention, subject access, key rotation)."""
