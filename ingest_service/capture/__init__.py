"""Capture: leads in from any channel (intake), batched (coalescer), re-driven (sweeper), judged by
ValidationService (validation_client)."""
