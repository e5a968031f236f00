"""IngestService RPCs: source and mapping management (capture core)."""

from leadrelay.server import unimplemented


class SourcesRpc:
    CreateSource = unimplemented("CreateSource", "source and mapping management (capture core)")
    GetSource = unimplemented("GetSource", "source and mapping management (capture core)")
    ListSources = unimplemented("ListSources", "source and mapping management (capture core)")
    UpdateSource = unimplemented("UpdateSource", "source and mapping management (capture core)")
    UpsertForm = unimplemented("UpsertForm", "source and mapping management (capture core)")
    ListForms = unimplemented("ListForms", "source and mapping management (capture core)")
    SetDefaultMapping = unimplemented("SetDefaultMapping", "source and mapping management (capture core)")
    SetFormMapping = unimplemented("SetFormMapping", "source and mapping management (capture core)")
    GetMapping = unimplemented("GetMapping", "source and mapping management (capture core)")
