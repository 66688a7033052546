"""Table tests of the pure decision layer (``grantwarden.policy``): no I/O, no clock, seeded RNGs."""
