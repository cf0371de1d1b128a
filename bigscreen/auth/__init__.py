"""Who may do what: accounts, kiosk tokens, sessions, CSRF, the audit trail. No Dash here."""
