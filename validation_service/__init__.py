"""Validation and post-out: acceptance criteria, dispositions, delivery to the MA/CRM (gRPC 50052)."""
