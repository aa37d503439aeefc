"""`tandem bench relay`: load the real relay with aiortc participants and measure it.

See docs/performance.md. Nothing here is imported by the application itself.
"""
