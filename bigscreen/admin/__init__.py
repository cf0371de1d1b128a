"""Administration: API keys, kiosk tokens, accounts and the audit trail, for admins only (no Dash here)."""
