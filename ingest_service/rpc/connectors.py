"""IngestService RPCs: platform connectors (social connectors)."""

from leadrelay.server import unimplemented


class ConnectorsRpc:
    ConnectSource = unimplemented("ConnectSource", "platform connectors (social connectors)")
    DisconnectSource = unimplemented("DisconnectSource", "platform connectors (social connectors)")
    SyncLeads = unimplemented("SyncLeads", "platform connectors (social connectors)")
    GetSourceCounts = unimplemented("GetSourceCounts", "platform connectors (social connectors)")
