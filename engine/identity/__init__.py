"""Identity from the organisation: OpenID Connect sign-in (oidc), the LDAP / Active Directory sync
(directory), and what both share: provisioning people and mapping their groups to roles (accounts)."""
