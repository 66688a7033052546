"""Tests of grantwarden.app."""
