"""Tests of grantwarden.config."""
