"""Coordination work (D9991/D9992/D9997...) logged on patients, and its documentation."""
