"""Account-side services without HTTP: access links, the patient registry, organizations,
staff accounts and licenses, and reading the audit trail. The portal calls these and passes
in who is acting; password hashing stays in ``portal/accounts`` (it owns the parameters)."""
