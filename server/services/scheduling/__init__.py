"""Scheduling for hybrid practices: availability, appointments, licensure, schedule health."""
