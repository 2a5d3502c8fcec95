"""One subpackage per studied model."""
