"""Test tooling shared by media, signaling and end-to-end tests: real aiortc peers, no mocks."""
