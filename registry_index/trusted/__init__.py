"""Trusted publishing: CI identities (OIDC tokens) exchanged for short-lived upload tokens."""
