"""The commands' compositions: ``runtime`` (the daemon), ``checking`` (check and plan),
``authorizing`` (a person's sign-in for a user-grant tenant). Each wires the layers below.
"""
