"""Authentication core: credentials, assurance levels, SSO sessions. No Flask request globals."""
