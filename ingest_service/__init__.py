"""Ingestion: sources, forms, mappings, lead intake, platform connectors, files (gRPC 50051, HTTP 8080)."""
