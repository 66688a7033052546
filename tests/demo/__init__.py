"""Tests of grantwarden.demo."""
