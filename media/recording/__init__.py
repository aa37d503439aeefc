"""Recording: each participant's forwarded media, kept as it came, built into one WebM file.

``recorder`` takes the packets during the call (one participant each) and ``journal`` is the
file they are appended to; once the recording stops, ``replay`` builds frames, timing
(``sync``) and keyframe-aligned WebM segments (``segment_writer``) from the journal, and
``remux`` joins them into the final file. ``storage`` says where every file lives;
``timeline`` which stretches of the session were recorded. See docs/media.md, "Recording".

The package's public names are exported from ``media`` itself (this module imports nothing, so
that media.relay can import the journal writer without the recorder).
"""
