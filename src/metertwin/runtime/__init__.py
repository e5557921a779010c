"""Drives a meter core through time, in real or accelerated time, and commits its memory."""
