"""Domain services: functions that take the database session and never commit (the request
boundary does), write their audit rows into the caller's unit of work, and turn requests down
with the errors of errors.py. They never import the HTTP layer."""
