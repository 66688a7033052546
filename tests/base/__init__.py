"""Tests of grantwarden.base."""
