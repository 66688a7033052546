"""Table tests of the pure decision layer (``daemon.policy``): no I/O, no clock, seeded RNGs."""
