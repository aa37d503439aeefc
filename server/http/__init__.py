"""The HTTP layer: routes per area, the request's unit of work, CSRF and security headers, and
the one mapping of service errors to statuses (errors.py). Pages call services, never the ORM."""
