"""Tests of grantwarden.worker."""
