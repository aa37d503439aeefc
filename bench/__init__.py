"""`tandem bench relay`: load the real relay with aiortc participants and measure it.

See docs/performance.md. It stands outside the application's layers: it starts the app as a
process and drives it from outside, and nothing in server, signaling, media or web imports it
(an import-linter contract).
"""
