"""Tests of grantwarden.surface."""
