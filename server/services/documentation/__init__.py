"""Clinical documentation: the chart, plans of care and goals, notes, signing, due dates, export."""
