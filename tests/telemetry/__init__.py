"""Tests of grantwarden.telemetry."""
