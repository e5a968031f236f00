"""IngestService RPCs: file import, export and re-upload (rejected-lead loop)."""

from leadrelay.server import unimplemented


class FilesRpc:
    ImportLeads = unimplemented("ImportLeads", "file import, export and re-upload (rejected-lead loop)")
    ReuploadLeads = unimplemented("ReuploadLeads", "file import, export and re-upload (rejected-lead loop)")
    ExportLeads = unimplemented("ExportLeads", "file import, export and re-upload (rejected-lead loop)")
