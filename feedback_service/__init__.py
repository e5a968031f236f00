"""Lifecycle feedback: CRM stage changes mapped to Meta's stages and sent to the Conversions API (gRPC 50053)."""
