"""Consent: what a citizen agreed to share with which portal."""
