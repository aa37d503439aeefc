"""Billing: charges derived from signed notes, payers and fees, checks, and the documents out
(837P, superbill PDF, the accountants' CSV)."""
