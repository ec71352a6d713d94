"""Email: which task emails an action causes, their composition and templates, signed links,
calendar invitations and the transactional outbox. Below the facade: nothing here imports `Engine`."""
