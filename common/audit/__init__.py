"""The audit log: who did or read what, appended in the same transaction as the change."""

from common.audit.csv_export import csv_chunks, neutralise_cell
from common.audit.log import AuditOutcome, record_audit, record_audits

__all__ = ["AuditOutcome", "csv_chunks", "neutralise_cell", "record_audit", "record_audits"]
