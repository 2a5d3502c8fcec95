"""Thin adapters from probe.v1 requests to the engine, the store and probe_models."""
