"""Sync: enrolment, push, pull and the quarantine of refused changes."""
