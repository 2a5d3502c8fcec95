"""The probe-cli command."""
