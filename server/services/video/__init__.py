"""Live video sessions: start, join links, attendance, the telehealth visit's session, recordings
and their consent, annotations, the observation summary. The relay itself runs in server/video/."""
