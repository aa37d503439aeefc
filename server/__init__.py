"""The application: settings, models and migrations, domain services, HTTP pages and API,
the video runtime, the app factory and the CLI (docs/architecture.md, "Inside server/")."""
