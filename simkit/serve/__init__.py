"""Serve the questionnaire to a room: ``simkit serve STUDY`` (one process, the only writer
of the study's vote store).

- :mod:`simkit.serve.session` — the session's tokens, participant codes and the checks
  every request passes before anything is written (no HTTP);
- :mod:`simkit.serve.pages`   — the pages as HTML text (pure rendering);
- :mod:`simkit.serve.server`  — the tornado application that joins the two.

The participant-facing texts come from :mod:`simkit.votes.messages`.
"""
