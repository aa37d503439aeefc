"""Email that leaves the machine: the SMTP sender and the outbox worker that drives it."""
