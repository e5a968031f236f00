"""IngestService RPCs: lead intake (capture core)."""

from leadrelay.server import unimplemented


class IntakeRpc:
    SubmitLead = unimplemented("SubmitLead", "lead intake (capture core)")
    SubmitLeads = unimplemented("SubmitLeads", "lead intake (capture core)")
    GetLead = unimplemented("GetLead", "lead intake (capture core)")
    ListLeads = unimplemented("ListLeads", "lead intake (capture core)")
