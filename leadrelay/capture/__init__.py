"""The capture core: sources, forms, leads and their audit trail (lead_events).

The one owner of those tables' SQL (sources_store, leads_store, events_store) and of the capture
domain every service shares (leads, mapping, dispositions). Services call it; none writes these
tables with SQL of its own.
"""
