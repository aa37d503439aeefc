"""Wires the signaling layer and the media relay into the app: the DB backend and the runtime."""
