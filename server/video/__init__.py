"""The live-session runtime the app's lifespan owns: relay, router and token signer (runtime.py),
the signaling layer's backend over the video services (backend.py), the recorder and snapshot
taps over media/ (recording.py), relay figures for /metrics (metrics.py). Its database work is
done by server/services/video/."""
