"""Kopf handlers: they observe, ask the rollout decision what to do, act and write status.

They only translate between Kopf and the layers below.
"""
