"""Sequences (issue 21): the list with its funnel, a sequence with its steps and enrolments, and the enrol dialog."""
