"""Connectors: Facebook (Graph) and LinkedIn leads in through webhooks (inbox), pollers and syncs,
their API clients and connections, and the platforms' own counts."""
