"""Delivering notifications of a Release's transitions to the channels of the operator's Secret.

What to notify is decided purely, with the transition (`greenlight.rollout.notifications`);
this package only delivers: `channels` reads the Secret's channels and signing keys and redacts
them from logs, `message` says what happened in a person's words and as signed JSON facts, and
`delivery` sends on background threads through apprise, retrying with back-off for a bounded
time. Nothing here blocks a tick.
"""
