"""Files: CSV/XLSX readers, header matching, import planning (pure), the importer, re-upload,
export, and the report of failed rows."""
