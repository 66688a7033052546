"""Tests of the HTTP boundary: the client against a loopback server, faults via aioresponses."""
