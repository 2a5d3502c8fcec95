"""Data sets read from the server's disk or generated offline; nothing is ever downloaded."""
