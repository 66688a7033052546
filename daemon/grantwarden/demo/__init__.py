"""``grantwarden demo``: the simulator's demo world with the real daemon on it, told as a story."""
