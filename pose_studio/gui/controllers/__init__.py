"""The window's controllers: each owns one concern and talks to the session, the lanes and the
widgets it was given; the window only composes them (see ``docs/ARCHITECTURE.md``).

Dependencies point one way: ``display``, ``playback``, ``review`` < ``fingerprints`` <
``opening`` < ``model`` < ``editing``.
"""
